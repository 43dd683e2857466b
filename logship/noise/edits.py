"""The I/O half of noise control: editing storm messages, sending summaries, saving counts.

`Deduper` (pure) decides; `RepeatEditor` acts. Its task sleeps until the deduper next has
something due (a timer, never a polling loop), then edits each message that has new
repeats, through its sink (`Editor.edit`: Discord keeps edits within their own rate
budget). A message that can no longer be edited (deleted, sent inside a shared digest, or
on a sink whose messages cannot be edited) gets a short summary message at the end of its
window instead, queued to the sink like any event.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from logship.event import Event
from logship.noise.dedupe import Deduper, Repeat
from logship.sinks.base import Outcome
from logship.sinks.worker import Item, SinkWorker
from logship.tail.checkpoint import atomic_write

log = logging.getLogger("logship.noise.dedupe")

STATE_FILE = "dedupe.json"


def repeat_event(repeat: Repeat) -> Event:
    """The first event again, with the count as its first field (for edits)."""
    first = repeat.first
    return dataclasses.replace(first, fields={"repeats": repeat.note(), **first.fields},
                               ack=None)


def summary_event(repeat: Repeat) -> Event:
    """A short message standing in for an edit that could not be made."""
    first = repeat.first
    line = first.message.strip().split("\n", 1)[0][:200]
    return Event(ts=datetime.now(UTC), level=first.level, kind=first.kind,
                 message=f"{line} — {repeat.note()} (repeats, within {repeat.route}'s window)",
                 logger=first.logger, source=first.source, path=first.path,
                 fields={"repeats": repeat.count, "fingerprint": repeat.fingerprint},
                 fingerprint=repeat.fingerprint)


class RepeatEditor:
    """Runs the edits and summaries the `Deduper` asks for."""

    def __init__(self, deduper: Deduper, workers: Callable[[str], SinkWorker | None],
                 refresh: Callable[[Repeat], Awaitable[None]] | None = None) -> None:
        self.deduper = deduper
        self._workers = workers
        self._refresh = refresh  # a cluster's window: its count from the other hosts
        self._wake = asyncio.Event()
        self.edits = 0
        self.summaries = 0

    def poke(self) -> None:
        """Something was counted: make sure the timer runs."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            delay = self.deduper.next_due()
            self._wake.clear()
            if delay is None:
                await self._wake.wait()
                continue
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.clear()
            for repeat, final in list(self.deduper.due()):
                await self._show(repeat, final)

    async def _show(self, repeat: Repeat, final: bool) -> None:
        worker = self._workers(repeat.sink)
        if worker is None:
            return  # the sink was removed by a reload
        if self._refresh is not None:
            await self._refresh(repeat)
        if repeat.count <= repeat.shown:  # (a shared window that did not grow elsewhere)
            self.deduper.shown(repeat, repeat.shown)
            return
        count = repeat.count
        if repeat.editable and repeat.message_id and await self._edit(worker, repeat):
            self.deduper.shown(repeat, count)
            return
        if final:
            await worker.put(Item(summary_event(repeat)))
            self.summaries += 1
            self.deduper.shown(repeat, count)
        else:
            self.deduper.shown(repeat, repeat.shown)  # not now: try again in EDIT_EVERY

    async def _edit(self, worker: SinkWorker, repeat: Repeat) -> bool:
        edit = getattr(worker.sink, "edit", None)  # only some sinks can (`Editor`)
        if edit is None or worker.gone or repeat.message_id is None:
            repeat.editable = edit is not None
            return False
        answer = await edit(repeat.message_id, repeat_event(repeat))
        if answer is None:  # this sink's messages cannot be edited (forum posts)
            repeat.editable = False  # a summary follows at the window's end
            return False
        if answer.outcome is Outcome.DELIVERED:
            self.edits += 1
            return True
        if answer.status in (403, 404):
            repeat.editable = False  # deleted: a summary will follow at the window's end
        if answer.outcome is not Outcome.RATE_LIMITED:
            log.warning("sink %s: could not edit the message counting repeats (%s)",
                        worker.name, answer.reason)
        return False


def load_state(state_dir: Path, deduper: Deduper) -> None:
    """Counts from before a restart (a missing or unreadable file: start afresh)."""
    path = state_dir / STATE_FILE
    try:
        deduper.load(orjson.loads(path.read_bytes())["repeats"])
    except FileNotFoundError:
        return
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        log.error("%s is unreadable (%s); repeat counts start afresh", path, exc)


def save_state(state_dir: Path, deduper: Deduper) -> None:
    """Write the counts if they changed (with the checkpoints, atomically)."""
    if not deduper.changed:
        return
    body = orjson.dumps({"saved_at": time.time(), "repeats": deduper.to_state()})
    atomic_write(state_dir / STATE_FILE, body)
    deduper.changed = False
