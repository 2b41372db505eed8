"""``backup`` and ``restore``: the whole data dir as one archive you can keep, move and restore.

    openclaw-local backup FILE                  # a consistent snapshot, also while a chat runs
    openclaw-local restore FILE [--into DIR]    # into an empty (or new) data dir only

The archive (tar.gz) holds the database, config.toml and the adapter versions the database
references, with a manifest of sha256 checksums; ``services/backup.py`` does the work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    b = sub.add_parser("backup", help="write the data dir (history, settings, adapters) to one archive; safe while a chat runs")
    b.add_argument("file", metavar="FILE", help="the archive to write (.tar.gz); its directory must exist")
    b.set_defaults(func=run_backup)
    r = sub.add_parser("restore", help="restore a backup archive into an empty or new data dir")
    r.add_argument("file", metavar="FILE", help="an archive written by openclaw-local backup")
    r.add_argument("--into", metavar="DIR", help="the data dir to restore into (default: OPENCLAW_HOME or the "
                                                  "platform data dir); it must be empty or not exist")
    r.set_defaults(func=run_restore)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def run_backup(args: argparse.Namespace) -> int:
    from openclaw_local.paths import user_dir
    from openclaw_local.services.backup import backup

    home = user_dir()  # read as it is: a backup never creates or writes the data dir
    result = backup(home, Path(args.file))
    versions = ", ".join(f"v{v}" for v in result.versions) or "none"
    print(f"backed up {home} to {result.path}: database (schema {result.schema_version})"
          f"{', config.toml' if result.config else ''}, adapter versions {versions}; "
          f"{_mb(result.n_bytes)} in {result.seconds:.1f} s")
    if result.missing:
        print(f"note: the files of {', '.join(f'v{v}' for v in result.missing)} were already missing "
              "and are not in the backup", file=sys.stderr)
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from openclaw_local.paths import user_dir
    from openclaw_local.services.backup import restore

    into = Path(args.into).expanduser() if args.into else user_dir()
    result = restore(Path(args.file), into)
    versions = ", ".join(f"v{v}" for v in result.versions) or "none"
    made = f" (made {result.created_at} by openclaw-local {result.app_version})" if result.created_at else ""
    print(f"restored {Path(args.file)}{made} into {result.path}: database (schema {result.schema_version}), "
          f"adapter versions {versions}; {result.n_files} files checked in {result.seconds:.1f} s")
    if args.into:
        print(f"to use it: OPENCLAW_HOME={result.path} openclaw-local")
    return 0
