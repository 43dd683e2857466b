"""The `logship` command line: `app` and its commands, one module each (see `app`)."""

from __future__ import annotations

from logship.cli import check, demo, history, init, preview, replay, run, testwebhook
from logship.cli.app import app, main, parse_since, setup_logging

__all__ = ["app", "check", "demo", "history", "init", "main", "parse_since", "preview",
           "replay", "run", "setup_logging", "testwebhook"]

if __name__ == "__main__":
    main()
