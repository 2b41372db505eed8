"""``openclaw-local`` / ``openclaw-local chat``: the terminal chat."""

from __future__ import annotations

import argparse

from openclaw_local.cli.common import add_common_options, home_dir, settings_from


def register(sub) -> None:
    p = sub.add_parser("chat", help="open the chat (the default)")
    add_common_options(p)
    p.add_argument("--no-learn", action="store_true", help="do not judge or train in the background")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services.runtime import Runtime

    home = home_dir()
    settings = settings_from(args, home)
    if getattr(args, "no_learn", False):
        settings = settings.replace(learn=False)
    with Runtime.open(home, settings, lock_instance=True) as runtime:
        from openclaw_local.ui.app import build_app

        app = build_app(runtime.chat, model_name=runtime.engine.model_name, status_provider=runtime.status)
        runtime.attach_ui(app)
        app.run()
    return 0
