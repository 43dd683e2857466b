"""End to end with the spool: an outage drains by itself, a dead webhook's events replay
to a corrected URL, a replay killed midway runs again cleanly, `logship spool` lists."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from collections import Counter
from pathlib import Path

import pytest

from logship.emulator.server import FakeDiscord
from logship.event import Event, Level
from logship.spool.store import (
    Spool,
    SpoolRecord,
    mark_drained,
    outstanding,
    read_segment,
    scan_segment,
    segments,
)
from tests.e2e import TOKEN, WAIT, WEBHOOK_IDS, Bot, Inbox, Logship, run_cli, write_config

pytestmark = pytest.mark.e2e

ERRORS = WEBHOOK_IDS["errors"]
FLAKY_SINK = {"circuit_failures": 2, "circuit_cooldown": 0.5, "retry_base": 0.01,
              "retry_cap": 0.05, "max_attempts": 10}




def spooled_ids(spool_dir: Path) -> Counter[int]:
    return Counter(int(n) for path in segments(spool_dir) for r in read_segment(path)
                   for n in re.findall(r"#(\d+)", r.event.message))


async def test_an_outage_spools_then_drains_by_itself(tmp_path: Path, fake: FakeDiscord,
                                                      inbox: Inbox) -> None:
    config = write_config(tmp_path, fake, sink_options=FLAKY_SINK)
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        fake.configure(fail_rate=1.0)  # Discord is down
        bot = Bot(tmp_path)
        for n in range(1, 41):
            bot.log("ERROR", f"during the outage #{n}")
        await daemon.wait_until_logged("circuit open")
        fake.configure(fail_rate=0.0)  # and back: nothing new is logged meanwhile
        await inbox.wait_for(lambda: set(inbox.ids(ERRORS)) == set(range(1, 41)))
        await daemon.wait_until_logged("circuit closed")
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    assert inbox.ids(ERRORS) == Counter(range(1, 41))  # each once
    assert spooled_ids(tmp_path / "state" / "spool") == Counter()
    assert fake.stats.rate_limited == 0
    status, out, _ = await run_cli("history", "--config", str(config), "--limit", "0")
    assert status == 0 and re.search(r" 200 delivered .*, by drain\)$", out, re.M), out


async def spool_to_a_deleted_webhook(tmp_path: Path, fake: FakeDiscord, count: int) -> Path:
    """The daemon meets a deleted webhook: errors #1..#count go to the spool as dead;
    stopped cleanly. Its config."""
    fake.delete_webhook(ERRORS)
    config = write_config(tmp_path, fake)
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        for n in range(1, count + 1):
            Bot(tmp_path).log("ERROR", f"nobody hears #{n}")
        await daemon.wait_until_logged("webhook deleted")
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    return config


async def test_a_dead_webhooks_events_replay_to_the_corrected_url(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = await spool_to_a_deleted_webhook(tmp_path, fake, 5)
    spool_dir = tmp_path / "state" / "spool"
    assert spooled_ids(spool_dir) == Counter(range(1, 6))

    status, out, _ = await run_cli("spool", str(spool_dir))
    assert status == 0 and "errors (dead): 5 events" in out and "10015" in out

    new_id = "200000000000000009"  # the operator made a new webhook and fixed the config
    config.write_text(config.read_text().replace(f"/{ERRORS}/", f"/{new_id}/"))
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config),
                                   "--dry-run")
    assert status == 0 and "errors: 5 events (5 dead) in 1 requests" in out
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out
    assert "5 delivered, 0 remain" in out
    assert inbox.ids(new_id) == Counter(range(1, 6))
    assert segments(spool_dir) == []


async def test_history_shows_what_replay_delivered(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = await spool_to_a_deleted_webhook(tmp_path, fake, 3)
    status, out, _ = await run_cli("history", "--config", str(config), "--failed")
    assert status == 0 and out.count(" dead ") == 3, out

    new_id = "200000000000000009"
    config.write_text(config.read_text().replace(f"/{ERRORS}/", f"/{new_id}/"))
    status, out, _ = await run_cli("replay", str(tmp_path / "state" / "spool"),
                                   "--config", str(config))
    assert status == 0 and "3 delivered, 0 remain" in out, out
    assert inbox.ids(new_id) == Counter(range(1, 4))

    status, out, _ = await run_cli("history", "--config", str(config))
    replayed = [line for line in out.splitlines() if line.endswith("(1 attempt, by replay)")]
    assert len(replayed) == 3 and all(" 200 delivered msg " in line for line in replayed), out
    status, out, _ = await run_cli("history", "--config", str(config), "--failed")
    assert status == 0
    assert out == ("no failed deliveries among the 6 recorded (3 failed ones were delivered "
                   "since, by the spool's drain or `logship replay`)\n")


async def test_replay_renders_with_the_routes_template_as_configured_now(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    routes = [{"name": "errors", "min_level": "error", "sinks": ["errors"],
               "template": "oncall"}]
    config = write_config(tmp_path, fake, routes=routes)
    base = config.read_text()
    config.write_text(base + '\n[templates.oncall]\ntitle = "Broken {{ first_line }}"\n')
    spool_dir = tmp_path / "state" / "spool"
    spool = Spool(spool_dir)
    spool.append([SpoolRecord(event=Event(ts=None, level=Level.ERROR, message=f"db down #{n}"),
                              sink="errors", reason="dead", error="HTTP 404", route="errors")
                  for n in (1, 2)])
    spool.close()
    # The operator fixes the template, then replays: the new one renders.
    config.write_text(base + '\n[templates.oncall]\ntitle = "Fixed: {{ first_line }}"\n')
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out
    titles = sorted(embed["title"] for r in inbox.received for embed in r.payload["embeds"])
    assert titles == ["Fixed: db down #1", "Fixed: db down #2"]
    footers = {embed["footer"]["text"] for r in inbox.received for embed in r.payload["embeds"]}
    assert all(socket.gethostname() in footer for footer in footers)


async def test_a_deleted_webhook_replaced_by_reload_takes_new_events(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    fake.delete_webhook(ERRORS)
    config = write_config(tmp_path, fake)
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        Bot(tmp_path).log("ERROR", "nobody hears #1")
        await daemon.wait_until_logged("webhook deleted")
        new_id = "200000000000000009"  # the operator made a new webhook, fixed the config
        config.write_text(config.read_text().replace(f"/{ERRORS}/", f"/{new_id}/"))
        daemon.signal(signal.SIGHUP)
        await daemon.wait_until_logged("its target changed")
        Bot(tmp_path).log("ERROR", "heard again #2")
        await inbox.wait_for(lambda: inbox.ids(new_id) == Counter({2: 1}))
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    assert spooled_ids(tmp_path / "state" / "spool") == Counter({1: 1})  # dead: for replay


async def test_a_replay_killed_midway_runs_again_without_loss(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    # digests, so the two runs stay within the channel's 30 messages a minute (the second
    # cannot know what the killed one spent: in full it would wait out a 429 of a minute)
    config = write_config(tmp_path, fake, sink_options={"webhook_requests": 1,
                                                        "webhook_window": 0.3,
                                                        "digest_after": 0.0})
    spool_dir = tmp_path / "state" / "spool"
    spool = Spool(spool_dir)
    spool.append([SpoolRecord(event=Event(ts=None, level=Level.ERROR, message=f"#{n}"),
                              sink="errors", reason="fallback", error="HTTP 503")
                  for n in range(1, 301)])
    spool.close()
    replay = await Logship("replay", str(spool_dir), "--config", str(config)).start()
    await inbox.wait_for(lambda: len(inbox.ids(ERRORS)) >= 150)  # the first chunks went
    replay.signal(signal.SIGKILL)
    await replay.wait()

    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out
    delivered = inbox.ids(ERRORS)
    assert set(delivered) == set(range(1, 301))  # nothing lost
    assert sum(delivered.values()) - 300 <= 100  # at most the chunk in flight, again
    assert segments(spool_dir) == [] and list(spool_dir.rglob("*.replayed")) == []


async def test_replay_filters_by_reason_and_since(tmp_path: Path, fake: FakeDiscord,
                                                  inbox: Inbox) -> None:
    config = write_config(tmp_path, fake)
    spool_dir = tmp_path / "state" / "spool"
    spool = Spool(spool_dir)
    spool.append([
        SpoolRecord(event=Event(ts=None, level=Level.ERROR, message="old dead #1"),
                    sink="errors", reason="dead", error="400",
                    first_failure="2020-01-01T00:00:00+00:00"),
        SpoolRecord(event=Event(ts=None, level=Level.ERROR, message="new fallback #2"),
                    sink="errors", reason="fallback", error="503"),
    ])
    spool.close()
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config),
                                   "--reason", "fallback", "--since", "1h")
    assert status == 0, out
    assert inbox.ids(ERRORS) == Counter({2: 1})
    assert [r.event.message for p in segments(spool_dir) for r in read_segment(p)] == [
        "old dead #1"]
    status, _, err = await run_cli("replay", str(spool_dir), "--config", str(config),
                                   "--since", "yesterday")
    assert status == 2 and "--since" in err


async def test_replay_leaves_what_the_running_daemon_holds(tmp_path: Path, fake: FakeDiscord,
                                                          inbox: Inbox) -> None:
    spool_dir = tmp_path / "state" / "spool"
    spool = Spool(spool_dir)  # as the daemon does: a segment open for appending
    spool.append([SpoolRecord(event=Event(ts=None, level=Level.ERROR, message="held #1"),
                              sink="errors", reason="fallback", error="503")])
    try:
        status, out, _ = await run_cli("replay", str(spool_dir), "--config",
                                       str(write_config(tmp_path, fake)))
        assert status == 1 and "in use by the running daemon" in out
        assert inbox.ids(ERRORS) == Counter()
    finally:
        spool.close()
    assert TOKEN not in out  # the URL's token never shows, not even in a note


async def test_replay_skips_what_the_drain_already_delivered(tmp_path: Path, fake: FakeDiscord,
                                                             inbox: Inbox) -> None:
    config = write_config(tmp_path, fake)
    spool_dir = tmp_path / "state" / "spool"
    spool = Spool(spool_dir)
    spool.append([SpoolRecord(event=Event(ts=None, level=Level.ERROR, message=f"#{n}"),
                              sink="errors", reason=reason, error="HTTP 503")
                  for n, reason in [(1, "fallback"), (2, "fallback"), (3, "dead"),
                                    (4, "fallback")]])
    spool.close()
    (path,) = segments(spool_dir)
    mark_drained(path, scan_segment(path).records[2][0])  # the drain sent #1 and #2
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out
    assert inbox.ids(ERRORS) == Counter({3: 1, 4: 1})  # dead ones are never drained
    assert "2 delivered, 0 remain" in out and segments(spool_dir) == []


# -- replay while the webhook still fails ------------------------------------------------

# Fails fast: the circuit opens after three failed requests, before the retries run out.
FAILING_SINK = {"circuit_failures": 3, "retry_base": 0.01, "retry_cap": 0.05,
                "max_attempts": 10}
WEBHOOK_FAILURES = {
    "503": (503, "HTTP 503"),
    "dropped": ("drop", "Server disconnected"),
    "404": (404, "webhook deleted (404, code 10015)"),
    "401": (401, "webhook refused (401, code 50027)"),
}


def outstanding_ids(spool_dir: Path) -> Counter[int]:
    """What a drain or replay would still send: what `.done`/`.replayed` do not cover."""
    return Counter(int(n) for path in segments(spool_dir) for _, r in outstanding(path)[0]
                   for n in re.findall(r"#(\d+)", r.event.message))


def spool_numbered(spool_dir: Path, count: int, reason: str = "fallback") -> None:
    spool = Spool(spool_dir)
    spool.append([SpoolRecord(event=Event(ts=None, level=Level.ERROR, message=f"#{n}"),
                              sink="errors", reason=reason, error="HTTP 503", attempts=2)
                  for n in range(1, count + 1)])
    spool.close()


@pytest.mark.parametrize("failure", sorted(WEBHOOK_FAILURES))
async def test_replay_while_the_webhook_still_fails_keeps_every_event(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, failure: str
) -> None:
    answer, reason = WEBHOOK_FAILURES[failure]
    config = write_config(tmp_path, fake, sink_options=FAILING_SINK)
    spool_dir = tmp_path / "state" / "spool"
    spool_numbered(spool_dir, 100)
    fake.script(*[answer] * 1000)

    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 1, out
    assert inbox.ids(ERRORS) == Counter()
    assert "0 delivered, 100 remain" in out
    (why,) = [line for line in out.splitlines() if line.startswith("errors: 100 remain: ")]
    assert reason in why
    assert spooled_ids(spool_dir) == Counter(range(1, 101))  # each kept, once
    assert outstanding_ids(spool_dir) == Counter(range(1, 101))
    records = [r for path in segments(spool_dir) for r in read_segment(path)]
    tried = [r for r in records if r.attempts > 2]
    assert tried and all(reason in r.error or "circuit open" in r.error for r in tried)
    assert list(spool_dir.rglob("*.replayed")) == []

    fake.reset()  # the webhook works again
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out
    assert "100 delivered, 0 remain" in out
    assert inbox.ids(ERRORS) == Counter(range(1, 101))
    assert segments(spool_dir) == []


async def test_replay_stops_trying_a_sink_whose_circuit_opened(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = write_config(tmp_path, fake, sink_options=FAILING_SINK)
    spool_dir = tmp_path / "state" / "spool"
    spool_numbered(spool_dir, 500)  # five chunks
    fake.script(*[503] * 1000)
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 1, out
    assert fake.stats.requests == FAILING_SINK["circuit_failures"]  # then it stopped
    assert "circuit open" in out and "errors: 500 remain" in out
    assert outstanding_ids(spool_dir) == Counter(range(1, 501))


async def test_a_replay_killed_while_the_webhook_fails_loses_nothing(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = write_config(tmp_path, fake, sink_options={
        "circuit_failures": 100, "retry_base": 0.2, "retry_cap": 0.2, "max_attempts": 2})
    spool_dir = tmp_path / "state" / "spool"
    spool_numbered(spool_dir, 300)
    fake.script(*[503] * 1000)
    replay = await Logship("replay", str(spool_dir), "--config", str(config)).start()

    async def tried_twice() -> None:  # a chunk failed again, the next one is trying
        while fake.stats.requests < 4:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(tried_twice(), WAIT)
    replay.signal(signal.SIGKILL)
    await replay.wait()
    assert outstanding_ids(spool_dir) == Counter(range(1, 301))

    fake.reset()
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out
    assert inbox.ids(ERRORS) == Counter(range(1, 301))
    assert segments(spool_dir) == [] and list(spool_dir.rglob("*.replayed")) == []


async def stop_during_a_drain_then_restart(tmp_path: Path, fake: FakeDiscord, inbox: Inbox,
                                           *, failing_at_stop: bool) -> None:
    """1,000 spooled events drain into a slow webhook; SIGTERM once some went (the
    webhook answering 503 from then on, if `failing_at_stop`, so the drain's events are
    still in the worker's hands at the deadline); a restart sends the rest. Each event is
    sent or kept exactly once after the stop, and sent exactly once in the end."""
    slow = {"webhook_requests": 1, "webhook_window": 0.4, "retry_base": 0.2,
            "retry_cap": 0.2, "max_attempts": 100, "circuit_failures": 100,
            # digests: the restart cannot know how much of the channel's minute the first
            # run spent, and in full it could wait out a 429 of a minute (this test is
            # about each event once, not about detail)
            "digest_after": 0.0}
    config = write_config(tmp_path, fake, sink_options=slow, drain_timeout=1.5)
    spool_dir = tmp_path / "state" / "spool"
    spool_numbered(spool_dir, 1000)
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await inbox.wait_for(lambda: len(inbox.ids(ERRORS)) > 0)  # the drain is under way
        if failing_at_stop:
            fake.script(*[503] * 1000)
            await daemon.wait_until_logged("HTTP 503")
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    sent, kept = inbox.ids(ERRORS), outstanding_ids(spool_dir)
    assert sent + kept == Counter(range(1, 1001))  # each sent or kept, once
    if failing_at_stop:
        assert len(segments(spool_dir)) == 2  # what the worker held was spooled anew

    fake.reset()
    config.write_text(config.read_text().replace("webhook_window = 0.4",
                                                 "webhook_window = 0.1"))
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await inbox.wait_for(lambda: set(inbox.ids(ERRORS)) == set(range(1, 1001)), 60)
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    assert inbox.ids(ERRORS) == Counter(range(1, 1001))  # none twice
    assert outstanding_ids(spool_dir) == Counter()


async def test_a_stop_during_a_drain_sends_and_keeps_each_event_once(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    await stop_during_a_drain_then_restart(tmp_path, fake, inbox, failing_at_stop=False)


async def test_a_stop_during_a_failing_drain_spools_each_event_once(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    await stop_during_a_drain_then_restart(tmp_path, fake, inbox, failing_at_stop=True)
