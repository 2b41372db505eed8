"""``openclaw-local`` / ``openclaw-local chat``: the terminal chat, with learning in the background."""

from __future__ import annotations

import argparse

from openclaw_local.cli.common import add_common_options, home_dir, settings_from

from openclaw_local.verdicts import MARKS


def register(sub) -> None:
    p = sub.add_parser("chat", help="open the chat (the default)")
    add_common_options(p)
    p.add_argument("--no-learn", action="store_true", help="do not judge or train in the background")
    p.add_argument("--serve", action="store_true", help="also serve the OpenAI-compatible endpoint (one model, one learner)")
    from openclaw_local.cli.serve import add_serve_options

    add_serve_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.services.events import Judged
    from openclaw_local.services.learner import AdapterSwapped
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
    with Runtime.open(home, settings, lock_instance=True) as runtime:
        from openclaw_local.ui.app import build_app

        app = build_app(runtime.chat, model_name=runtime.engine.model_name, status_provider=lambda: runtime.status().fields(),
                        on_learn_now=runtime.learner.learn_now if settings.learn else None)

        def notify(event: object) -> None:  # called from background threads
            if not app.is_running:
                return
            if isinstance(event, Judged):
                app.post_judgment(event.message_id, MARKS.get(event.reward, "·"), event.hint)
            elif isinstance(event, AdapterSwapped):
                text = event.notice or (f"now serving adapter v{event.version}" if event.version else "now serving the base model")
                app.call_from_thread(app.notify, text, severity="warning" if event.notice else "information")

        runtime.attach_ui(notify)
        app.adapter_service = runtime.adapters  # ctrl+a: the Adapters screen
        runtime.start_background()
        _show_start_notices(app, runtime.notices, runtime.learner.notices)
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


def _show_start_notices(app, *sources: list[str]) -> None:
    """Fallback notices from start-up (the llama.cpp self-test, a broken adapter version) are shown once the app runs."""
    import threading
    import time

    if not any(sources):
        return

    def show() -> None:
        deadline = time.monotonic() + 30
        while not app.is_running and time.monotonic() < deadline:
            time.sleep(0.1)
        for text in [text for notices in sources for text in list(notices)]:
            if app.is_running:
                app.call_from_thread(app.notify, text, severity="warning", timeout=15)

    threading.Thread(target=show, name="start-notices", daemon=True).start()
