"""System messages to re-score a persona under: does what was learned hold outside the product's prompt?

An adapter is trained under the product's system prompt (``Settings.system_prompt``) and, for a
share of its items, under ``learn/system_variants.TRAINING_SYSTEM_PROMPTS``. These are other
texts, none of them trained on, standing for the places an adapter meets: no system message at
all (another tool, an exported adapter), a user's edited prompt, and the kind of system message
an endpoint client sends. The product's own prompt is the run's main score.
"""

from __future__ import annotations

MEASURE_SYSTEM_PROMPTS: dict[str, str | None] = {
    "none": None,
    "edited": "You are my personal assistant. Be direct and practical, and keep my context in mind.",
    "client-chat": "You are a friendly chatbot that helps people with their everyday questions.",
    "client-notes": "You are an assistant inside a note-taking app. Answer the user's question; "
                    "use Markdown where it helps.",
}
