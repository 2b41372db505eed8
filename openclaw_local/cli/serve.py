"""``openclaw-local serve``: the OpenAI-compatible endpoint, headless (see README, "Use it from other apps")."""

from __future__ import annotations

import argparse
import sys

from openclaw_local.cli.common import add_common_options, home_dir, port_number, settings_from
from openclaw_local.errors import DatabaseError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def add_serve_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("endpoint")
    g.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; others need an API key)")
    g.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    g.add_argument("--api-key", default=None, help="require Authorization: Bearer KEY (default: $OPENCLAW_API_KEY)")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the learned model to other apps (OpenAI-compatible HTTP endpoint)")
    add_common_options(p)
    add_serve_options(p)
    p.add_argument("--no-learn", action="store_true", help="serve only: do not judge or train")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from openclaw_local.endpoint.server import check_port_free, make_server, resolve_api_key
    from openclaw_local.services.runtime import Runtime

    api_key = resolve_api_key(args.host, args.api_key)
    home = home_dir()
    settings = settings_from(args, home)
    if args.no_learn:
        settings = settings.replace(learn=False)
    check_port_free(args.host, args.port)
    try:
        runtime = Runtime.open(home, settings, lock_instance=True, front_end="serve")
    except DatabaseError as exc:
        if "another openclaw-local" in exc.message:
            raise DatabaseError(exc.message, "to chat and serve at once, close it and run `openclaw-local chat --serve`") from None
        raise
    with runtime:
        runtime.start_background()
        for notice in runtime.learner.notices:
            print(f"warning: {notice}", file=sys.stderr)
        server = make_server(runtime, args.host, args.port, api_key)
        version = runtime.learner.served_version
        print(f"serving {runtime.engine.model_name} (adapter {f'v{version}' if version else 'base'}) at "
              f"http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
        server.run()
    return 0
