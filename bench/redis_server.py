"""A real Redis (or Valkey) server on a loopback port of its own, for the cluster bench
and tests: started from the system's binary (`.ci/run` installs Debian's redis-server),
no persistence, killed the hard way when asked."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

BINARIES = ("redis-server", "valkey-server")


def find_binary() -> str | None:
    """The server's path, or None when none is installed."""
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """`redis-server` on 127.0.0.1, no persistence; `url` to reach it."""

    def __init__(self, folder: Path, binary: str | None = None) -> None:
        self.folder = folder
        self.binary = binary or find_binary() or "redis-server"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), 0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.binary} did not answer on port {self.port}")

    def start_again(self) -> RedisServer:
        """Start it again on the same port (empty: nothing was saved)."""
        return self.start()

    def stop(self) -> None:
        """Kill it (SIGKILL: Redis going away the hard way)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running_redis(folder: Path, binary: str | None = None) -> Iterator[RedisServer]:
    server = RedisServer(folder, binary).start()
    try:
        yield server
    finally:
        server.stop()
