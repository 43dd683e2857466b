"""Fingerprints and the dedupe bookkeeping (pure), then a storm end to end."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from logship.config import RouteConfig
from logship.emulator.server import FakeDiscord
from logship.event import Event, Level
from logship.noise.dedupe import EDIT_EVERY, Deduper
from logship.noise.fingerprint import exception_type, fingerprint, normalise, top_frame
from tests.e2e import WEBHOOK_IDS, Bot, Inbox, Logship, until, write_config

ERRORS = WEBHOOK_IDS["errors"]
TRACE = ('Traceback (most recent call last):\n  File "/opt/bot/src/cogs/stats.py", line 88, '
         'in refresh\n    await self.fetch()\n  File "/opt/bot/src/http.py", line {line}, in '
         'fetch\n    raise TimeoutError(f"after {{t}}")\nTimeoutError: after {n} s')


def error(message: str, exception: str | None = None) -> Event:
    return Event(ts=None, level=Level.ERROR, message=message, exception=exception)


def test_the_varying_parts_do_not_change_the_fingerprint() -> None:
    a = error("Fetch of guild 123456789012345678 failed", TRACE.format(line=10, n=3))
    b = error("Fetch of guild 876543210987654321 failed", TRACE.format(line=12, n=9))
    assert fingerprint(a) == fingerprint(b)
    assert exception_type(a.exception) == "TimeoutError"
    assert top_frame(a.exception) == "http.py:fetch"


def test_a_different_error_has_another_fingerprint() -> None:
    assert fingerprint(error("Fetch failed")) != fingerprint(error("Store failed"))
    other_frame = TRACE.format(line=1, n=1).replace("in fetch", "in store")
    assert fingerprint(error("x", TRACE.format(line=1, n=1))) != fingerprint(
        error("x", other_frame))


def test_normalise_placeholders() -> None:
    assert normalise("user 'bob' id=42 at C:\\bot\\x.py uuid "
                     "123e4567-e89b-12d3-a456-426614174000") == (
        "user <str> id=<n> at <path> uuid <uuid>")


def test_repeats_are_counted_per_route_sink_and_window() -> None:
    now = [0.0]
    deduper = Deduper(clock=lambda: now[0])
    route = RouteConfig(name="errors", sinks=("a", "b"), dedupe_window=60.0)
    first = error("boom 1")
    assert deduper.admit(route, "a", first) and deduper.admit(route, "b", first)
    assert not deduper.admit(route, "a", error("boom 2"))
    deduper.delivered("a", [first], "m1", shared=False)
    now[0] = EDIT_EVERY
    (due,) = deduper.due()
    assert due[0].sink == "a" and due[0].count == 2 and due[0].message_id == "m1" and not due[1]
    deduper.shown(due[0], 2)
    now[0] = 61.0  # the window ends: nothing new since the edit, so no last word
    assert list(deduper.due()) == []
    assert deduper.admit(route, "a", error("boom 3"))  # a new window


def test_a_first_never_delivered_is_forgotten_when_its_window_is_replaced() -> None:
    now = [0.0]
    deduper = Deduper(clock=lambda: now[0])
    route = RouteConfig(name="errors", sinks=("a",), dedupe_window=60.0)
    for window in range(100):  # each first is spooled, never answered for, then replaced
        now[0] = 61.0 * window
        assert deduper.admit(route, "a", error(f"boom {window}"))
    assert len(deduper._by_first) == 1  # the current window's first, and no other


def test_a_window_is_saved_only_once_its_first_is_delivered_or_spooled() -> None:
    deduper = Deduper(clock=lambda: 0.0)
    route = RouteConfig(name="errors", sinks=("a", "b"), dedupe_window=60.0)
    first = error("boom")
    assert deduper.admit(route, "a", first) and deduper.admit(route, "b", first)
    assert not deduper.admit(route, "a", error("boom"))
    assert deduper.to_state() == []  # in flight: a crash now must let it be sent again
    deduper.delivered("a", [first], "m1", shared=False)
    assert [(r["sink"], r["count"]) for r in deduper.to_state()] == [("a", 2)]
    deduper.spooled("b", [first])
    assert sorted(r["sink"] for r in deduper.to_state()) == ["a", "b"]


def test_no_window_no_dedupe() -> None:
    deduper = Deduper()
    route = RouteConfig(name="all", sinks=("a",))
    assert all(deduper.admit(route, "a", error("same")) for _ in range(3))
    assert deduper.repeats() == []


def dedupe_config(tmp_path: Path, fake: FakeDiscord) -> Path:
    return write_config(tmp_path, fake, routes=[
        {"name": "errors", "min_level": "error", "sinks": ["errors"], "dedupe_window": "5m"}])


def latest_text(fake: FakeDiscord) -> str:
    """The errors channel's messages as they read now (edits applied)."""
    return "\n".join(str(m.payload) for m in fake.messages_for(ERRORS))


async def until_shown(fake: FakeDiscord, text: str) -> bool:
    """Edits are not messages (no inbox wake-up): look every half edit interval."""
    for _ in range(40):
        if text in latest_text(fake):
            return True
        await asyncio.sleep(EDIT_EVERY / 2)
    return False


async def test_a_storm_of_one_error_is_one_message_counting_to_1000(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    daemon = await Logship("run", "--config", str(dedupe_config(tmp_path, fake))).start()
    try:
        await daemon.wait_until_logged("running:")
        bot = Bot(tmp_path)
        for n in range(1000):
            bot.log("ERROR", f"Failed to fetch guild {100000000000000000 + n}")
        await inbox.wait_for(lambda: bool(inbox.received))
        assert await until_shown(fake, "×1000,"), daemon.stderr
        assert fake.stats.requests <= 10 and len(fake.messages_for(ERRORS)) == 1
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()


async def test_different_errors_all_arrive(tmp_path: Path, fake: FakeDiscord, inbox: Inbox
                                           ) -> None:
    daemon = await Logship("run", "--config", str(dedupe_config(tmp_path, fake))).start()
    try:
        await daemon.wait_until_logged("running:")
        bot = Bot(tmp_path)
        words = ["".join(chr(97 + int(d)) for d in f"{n:03d}") for n in range(1000)]
        for n, word in enumerate(words):
            bot.log("ERROR", f"Handler {word} failed #{n}")
        await inbox.wait_for(lambda: len(inbox.ids(ERRORS)) == 1000, timeout=120)
        assert set(inbox.ids(ERRORS)) == set(range(1000))
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()


async def test_counts_survive_a_restart(tmp_path: Path, fake: FakeDiscord, inbox: Inbox
                                        ) -> None:
    config = str(dedupe_config(tmp_path, fake))
    bot = Bot(tmp_path)
    first = await Logship("run", "--config", config).start()
    await first.wait_until_logged("running:")
    for n in range(10):
        bot.log("ERROR", f"Disk almost full: {90 + n}%")
    await inbox.wait_for(lambda: bool(inbox.received))
    first.signal(signal.SIGTERM)
    assert (await first.wait())[0] == 0
    assert (tmp_path / "state" / "dedupe.json").exists()

    second = await Logship("run", "--config", config).start()
    try:
        await second.wait_until_logged("running:")
        for n in range(5):
            bot.log("ERROR", f"Disk almost full: {95 + n}%")
        assert await until_shown(fake, "×15,"), second.stderr
        assert len(fake.messages_for(ERRORS)) == 1
        assert re.search(r"Disk almost full", latest_text(fake))
        assert (await second.stop())[0] == 0
    finally:
        second.kill()


async def test_a_storm_beyond_the_channel_is_summarised_then_ends(tmp_path: Path, inbox: Inbox
                                                                  ) -> None:
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=inbox, latency=0.3) as slow:
        config = write_config(tmp_path, slow, sink_options={
            "queue_size": 20, "storm_after": 1.0, "storm_every": 2.0})
        daemon = await Logship("run", "--config", str(config)).start()
        try:
            await daemon.wait_until_logged("running:")
            bot = Bot(tmp_path)
            for n in range(3000):
                bot.log("ERROR", f"Handler {'abcdefghij'[n % 10]} failed for user {n}")
            await daemon.wait_until_logged("storm mode")
            await inbox.wait_for(lambda: any("storm over" in str(r.payload)
                                             for r in inbox.received))
            text = "\n".join(str(m.payload) for m in slow.messages_for(ERRORS))
            assert "storm on errors: more events than the channel can take" in text
            assert "storm over on errors" in text, text[-2000:]
            assert re.search(r"×\d+ Handler [a-j] failed", text)
            assert slow.stats.rate_limited == 0
            assert (await daemon.stop())[0] == 0
        finally:
            daemon.kill()


@pytest.mark.parametrize("sink_options", [{"thread_id": "300000000000000001"},
                                          {"embeds": False}], ids=["thread", "plain text"])
async def test_the_counting_edit_reaches_a_thread_and_a_plain_text_sink(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, sink_options: dict[str, object]
) -> None:
    config = write_config(tmp_path, fake, sink_options=sink_options, routes=[
        {"name": "errors", "min_level": "error", "sinks": ["errors"], "dedupe_window": "5m"}])
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        bot = Bot(tmp_path)
        for n in range(5):
            bot.log("ERROR", f"Failed to fetch guild {100000000000000000 + n}")
        await inbox.wait_for(lambda: bool(inbox.received))
        assert await until_shown(fake, "×5,"), daemon.stderr
        (message,) = fake.messages_for(ERRORS)
        assert ("embeds" in message.payload) is (sink_options.get("embeds") is not False)
        assert "could not edit" not in daemon.stderr
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()


async def test_a_first_event_killed_before_its_send_is_sent_after_the_restart(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    """The window's first event is held in flight (the webhook does not answer) when
    logship is killed -9: nothing may remember it as sent. After the restart it is read
    again and sent, not counted as a repeat of a message that never existed."""
    config = str(dedupe_config(tmp_path, fake))
    state = tmp_path / "state" / "dedupe.json"
    fake.configure(latency=3600.0)  # the first request hangs
    first = await Logship("run", "--config", config).start()
    try:
        await first.wait_until_logged("running:")
        Bot(tmp_path).log("ERROR", "Disk almost full: 91%")
        await until(lambda: fake.stats.requests == 1 and state.exists())
        first.signal(signal.SIGKILL)
        await first.wait()
    finally:
        first.kill()

    fake.configure(latency=0.0)
    second = await Logship("run", "--config", config).start()
    try:
        await second.wait_until_logged("running:")
        await inbox.wait_for(lambda: bool(fake.messages_for(ERRORS)))
        (message,) = fake.messages_for(ERRORS)
        assert "Disk almost full" in str(message.payload)
        assert (await second.stop())[0] == 0
    finally:
        second.kill()
