"""Schema tools for developers and operators.

    python -m skyshare.store current  --url sqlite:///skyshare.db
    python -m skyshare.store upgrade  --url postgresql+psycopg://user@host/db
    python -m skyshare.store revision "add a column" --url sqlite:///scratch.db

``revision`` upgrades the given (scratch) database first, then writes a new file in
``migrations/versions`` with the differences to ``tables.py``: review it before use.
"""

from __future__ import annotations

import argparse

from skyshare.store.engine import create_store_engine, normalize_url
from skyshare.store.migrate import autogenerate_revision, current_revision, upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m skyshare.store")
    parser.add_argument("action", choices=["upgrade", "current", "revision"])
    parser.add_argument("message", nargs="?", default="", help="revision message")
    parser.add_argument("--url", required=True, help="database URL")
    args = parser.parse_args(argv)
    engine = create_store_engine(normalize_url(args.url))
    try:
        if args.action == "upgrade":
            upgrade(engine)
        elif args.action == "current":
            print(current_revision(engine) or "(empty database)")
        else:
            if not args.message:
                parser.error("revision needs a message")
            upgrade(engine)  # autogenerate compares against an up-to-date schema
            autogenerate_revision(engine, args.message)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
