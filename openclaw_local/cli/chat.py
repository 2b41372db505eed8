"""``openclaw-local`` / ``openclaw-local chat``: the terminal chat, with learning in the background."""

from __future__ import annotations

import argparse

from openclaw_local.cli.common import add_common_options, home_dir, settings_from


def register(sub) -> None:
    p = sub.add_parser("chat", help="open the chat (the default)")
    add_common_options(p)
    p.add_argument("--no-learn", action="store_true", help="do not judge or train in the background")
    p.add_argument("--serve", action="store_true", help="also serve the OpenAI-compatible endpoint (one model, one learner)")
    from openclaw_local.cli.serve import add_serve_options

    add_serve_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from itertools import chain

    from openclaw_local.services.runtime import Runtime

    serving = getattr(args, "serve", False)
    if serving:
        from openclaw_local.endpoint.server import check_port_free, resolve_api_key

        api_key = resolve_api_key(args.host, args.api_key)
        check_port_free(args.host, args.port)
    home = home_dir()
    settings = settings_from(args, home)
    if getattr(args, "no_learn", False):
        settings = settings.replace(learn=False)
    with Runtime.open(home, settings, lock_instance=True, front_end="chat --serve" if serving else "chat") as runtime:
        from openclaw_local.ui.app import build_app

        # The app subscribes to runtime.events itself while it runs (ui/event_bridge.py); the
        # fallback notices of start-up (the llama.cpp self-test, a broken adapter) are read once it runs.
        app = build_app(runtime.chat, model_name=runtime.engine.model_name,
                        status_provider=lambda: runtime.status().fields(),
                        on_learn_now=runtime.learner.learn_now if settings.learn else None,
                        adapter_service=runtime.adapters, events=runtime.events,
                        start_notices=chain(runtime.notices, runtime.learner.notices))
        runtime.start_background()
        server = None
        if serving:
            from openclaw_local.endpoint.server import BackgroundServer, make_server

            server = BackgroundServer(make_server(runtime, args.host, args.port, api_key, quiet=True)).start()
            runtime.learner.notices.append(f"serving the OpenAI-compatible endpoint at http://{args.host}:{args.port}/v1")
        try:
            app.run()
        finally:
            if server is not None:
                server.stop()
    return 0
