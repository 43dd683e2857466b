"""Helpers for end-to-end tests: a real `logship` process against the emulator.

`Bot` writes log lines the way a bot does (append, flush); `Logship` runs the CLI as a
subprocess (`python -m logship`) and collects its stderr; `Inbox` wakes the test when the
emulator accepted a message, so tests wait for what they expect instead of sleeping.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import tomli_w

from logship.emulator.server import FakeDiscord, Received

WAIT = 20.0  # seconds: generous, only ever reached when a test fails
TOKEN = "e2e-secret-token"
WEBHOOK_IDS = {"errors": "200000000000000001", "members": "200000000000000002"}


class Inbox:
    """What the emulator accepted, with a way to wait for more."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._changed = asyncio.Event()

    def __call__(self, received: Received) -> None:
        self.received.append(received)
        self._changed.set()

    def embeds(self, webhook_id: str | None = None) -> list[dict[str, Any]]:
        return [embed for r in self.received
                if webhook_id is None or r.webhook_id == webhook_id
                for embed in r.payload.get("embeds", [])]

    def titles(self, webhook_id: str | None = None) -> list[str]:
        return [embed.get("title", "") for embed in self.embeds(webhook_id)]

    def ids(self, webhook_id: str | None = None) -> Counter[int]:
        """How often each "#N" was delivered, in full embeds and digests alike."""
        return Counter(
            int(n)
            for embed in self.embeds(webhook_id)
            for text in (embed.get("title", ""), embed.get("description", ""))
            for n in re.findall(r"#(\d+)", text)
        )

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)


def write_config(root: Path, fake: FakeDiscord, *, routes: list[dict[str, Any]] | None = None,
                 sink_options: dict[str, Any] | None = None, **daemon: Any) -> Path:
    """A config for the bot's logs under `root/logs/*/logs.json`, two sinks, two routes."""
    config = {
        "daemon": {"state_dir": str(root / "state"), "drain_timeout": 5.0,
                   "checkpoint_interval": 0.2, **daemon},
        "sources": [{"name": "bot", "paths": [str(root / "logs" / "*" / "logs.json")],
                     "format": "json", "start_at": "beginning"}],
        "sinks": {name: {"url": fake.webhook_url(webhook_id=wid, token=TOKEN),
                         "username": f"e2e {name}", **(sink_options or {})}
                  for name, wid in WEBHOOK_IDS.items()},
        "routes": routes if routes is not None else [
            {"name": "errors", "min_level": "error", "sinks": ["errors"]},
            {"name": "members", "sinks": ["members"], "match": {"message": "^Member"}}],
    }
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


class Bot:
    """Appends JSON log lines to `root/logs/<day>/logs.json`."""

    def __init__(self, root: Path, day: str = "2025-07-16") -> None:
        self.root = root
        self.path = root / "logs" / day / "logs.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, level: str, message: str, **context: Any) -> None:
        record = {"timestamp": "2025-07-16T12:00:00+00:00", "level": level,
                  "message": message, "context": context}
        with self.path.open("ab") as out:
            out.write(orjson.dumps(record) + b"\n")

    def new_day(self, day: str) -> Bot:
        return Bot(self.root, day)


class Logship:
    """`python -m logship ARGS` as a child process; its stderr is collected as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.args = args
        self.env = env or {}
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = ""
        self._logged = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Logship:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "logship", *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env}, cwd=self.cwd,
        )
        self._reader = asyncio.create_task(self._read_stderr())
        return self

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr += line.decode(errors="replace")
            self._logged.set()
        self._logged.set()

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float = WAIT) -> tuple[int, str, str]:
        """Exit status, stdout and stderr once the process ended."""
        assert self.process is not None and self.process.stdout is not None
        assert self._reader is not None
        out = await asyncio.wait_for(self.process.stdout.read(), timeout)
        await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return self.process.returncode or 0, out.decode(), self.stderr

    async def stop(self) -> tuple[int, str, str]:
        self.signal(signal.SIGTERM)
        return await self.wait()

    async def wait_until_logged(self, text: str, timeout: float = WAIT) -> None:
        """Wait for a line of logship's own log containing `text`."""
        async def scan() -> None:
            while text not in self.stderr:
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"logship exited before logging {text!r}:\n"
                                         f"{self.stderr}")
                self._logged.clear()
                await self._logged.wait()

        await asyncio.wait_for(scan(), timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait for a condition nothing announces (a file written, a request begun): look
    every 20 ms."""
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def run_cli(*args: str, timeout: float = WAIT) -> tuple[int, str, str]:
    """Run a short `logship` command to its end: exit status, stdout, stderr."""
    return await (await Logship(*args).start()).wait(timeout)


def after_the_clock_ticks(folder: Path) -> None:
    """Return once the file system's clock has moved on (its timestamps are coarse), so
    what is written next is stamped later than whatever logship last looked at."""
    probe = folder / ".tick"
    probe.touch()
    first = probe.stat().st_mtime_ns
    while probe.stat().st_mtime_ns == first:
        time.sleep(0.001)
        probe.touch()
    probe.unlink()
