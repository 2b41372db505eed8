"""Hints from the user's own words (learn/hints.py)."""

from __future__ import annotations

import pytest

from openclaw_local.judge.hints import request_hint


@pytest.mark.parametrize("text,expected", [
    ("Thanks! can you add sources?", "Add sources."),
    ("please avoid jargon next time", "Avoid jargon."),
    ("Great, but can you cite a source?", "Cite a source."),
    ("please write it for a five year old", "Write it for a five year old."),
    ("Could you make it shorter and drop the emojis?", "Make it shorter and drop the emojis."),
    ("too long", "Make it shorter."),
    ("way too technical tbh", "Make it simpler, with less jargon."),
])
def test_requests_become_instructions(text, expected):
    assert request_hint(text) == expected


@pytest.mark.parametrize("text", ["no", "that's wrong", "useless 🙄", "nope", "ugh", "", None, "seriously?"])
def test_bare_complaints_give_no_hint(text):
    assert request_hint(text) is None


def test_implicit_correction_keeps_the_users_words():
    h = request_hint("it's python 3 not 2")
    assert h is not None and "python 3" in h


def test_the_instruction_names_the_phrase_a_reply_must_open_or_close_with():
    assert request_hint('you forgot to start with "Hi there!", please always greet the student first').startswith(
        'Start the reply with "Hi there!". Always greet the student first.')
    assert request_hint('you forgot to start with "Quick answer:", please always start your reply with that').startswith(
        'Start the reply with "Quick answer:".')
    # already named: unchanged
    assert request_hint('Could you close with "Keep it up!"? That\'s our class motto.').startswith('Close with "Keep it up!".')
    assert request_hint("no") is None
    # a phrase the user rejects, reports or asks about is never turned into an instruction to use it
    for message in ('ugh, you started with "Certainly!" again. just answer',
                    'no need to begin with "As an AI". please be brief',
                    'why does it end with "Hope this helps"? please remove that',
                    'how do I start the server with "npm start"? it fails',
                    "please don't end with \"Hope this helps\""):
        hint = request_hint(message) or ""
        assert not hint.startswith(("Start the reply", "End the reply")), (message, hint)
