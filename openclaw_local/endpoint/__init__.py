"""The OpenAI-compatible HTTP endpoint: a front-end beside the terminal chat.

It knows HTTP, OpenAI's request/response shapes and the request queue; everything
else (conversations, next states, feedback, adapters) it asks the services layer for.
"""
