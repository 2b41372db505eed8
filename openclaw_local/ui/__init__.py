"""The Textual terminal UI. Imports services and store models, never llama_cpp or sqlite."""

from openclaw_local.ui.app import OpenClawApp, build_app
from openclaw_local.ui.messages import JudgmentUpdate, LearningUpdate

__all__ = ["OpenClawApp", "build_app", "JudgmentUpdate", "LearningUpdate"]
