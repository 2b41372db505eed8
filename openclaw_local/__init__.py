"""openclaw-local: a desktop assistant that learns locally from being used."""

__version__ = "0.1.0"
