"""The real Redis the cluster tests need (`bench.redis_server`): missing, the tests skip,
except under CI (`CI=true`), where that fails the run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.redis_server import RedisServer, find_binary

__all__ = ["RedisServer", "running_redis", "server_binary"]


def server_binary() -> str:
    """The server's path; skips (fails under CI) when none is installed."""
    found = find_binary()
    if found is None:
        message = "no redis-server or valkey-server installed (.ci/run installs redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextlib.contextmanager
def running_redis(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder, server_binary()).start()
    try:
        yield server
    finally:
        server.stop()
