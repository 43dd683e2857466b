"""The burst bench counts what it should (its timings are reported, never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import burst


def test_ids_are_read_from_every_text_of_each_embed() -> None:
    payload = {
        "content": "see #7",
        "embeds": [
            {"title": "🔴 ERROR: burst error #1: x", "footer": {"text": "bot · h"}},
            {"title": "🔴 3 events", "description": "`12:00` #2 a\n`12:00` #3 b\n#3 again",
             "fields": [{"name": "more", "value": "#4"}]},
        ],
        "allowed_mentions": {"parse": []},
    }
    assert burst.ids_per_part(payload) == [{7}, {1}, {2, 3, 4}]


def test_minimum_requests_and_floor() -> None:
    # 25 messages of 39 characters: one request holds them all when they share embeds,
    # three at one event per embed (10 per message).
    assert burst.minimum_requests(25, 25 * 39) == (1, 3)
    assert burst.minimum_requests(1_000, 1_000 * 239) == (40, 100)
    limits = burst.Limits(channel_window=15.0)
    assert limits.scale == 4.0
    assert limits.floor_seconds(5) == 0.0
    assert limits.floor_seconds(6) == 2.0  # the 6th waits for the webhook's window
    assert limits.floor_seconds(31) == 15.0  # the 31st waits for the channel's
    assert limits.floor_seconds(36) == 17.0  # then the webhook's window starts again
    assert limits.floor_seconds(1, latency=2.0) == 2.0


@pytest.mark.e2e
async def test_tiny_burst_is_delivered_whole_in_full_embeds_without_429s(tmp_path: Path
                                                                      ) -> None:
    scenario = burst.Scenario("tiny", 50)  # a restart's errors: in full within a minute
    result = await burst.measure(scenario, burst.Limits(channel_window=6.0), tmp_path)
    assert (result.delivered, result.expected) == (50, 50)
    assert result.full_detail == 50 and result.digested == 0
    assert result.rate_limited == 0
    assert result.duplicates == 0
    assert result.unexpected == 0
    assert result.exit_code == 0
    assert not result.timed_out
    assert result.requests >= result.min_requests >= 1
    rows = burst.report([result])
    assert rows[0].split(" | ")[0].strip() == "scenario"
    assert rows[2].startswith("tiny ")
    assert [cell.strip() for cell in rows[2].split(" | ")][1:5] == ["50", "50", "100.0%", "0"]


@pytest.mark.e2e
async def test_a_digested_burst_still_delivers_every_event_s_full_detail(tmp_path: Path
                                                                        ) -> None:
    scenario = burst.Scenario("digests", 300, digest_after=1.0)
    result = await burst.measure(scenario, burst.Limits(channel_window=6.0), tmp_path)
    assert (result.delivered, result.full_detail) == (300, 300)
    assert result.digested > 0  # some as digest lines, their detail in events.log
    assert result.rate_limited == 0 and result.duplicates == 0 and not result.timed_out
    assert result.exit_code == 0


def test_full_detail_is_read_from_embeds_and_attachments() -> None:
    from logship.emulator.server import Received

    payload = {"embeds": [{"title": "🔴 burst error #1", "description": burst.traceback_of(1),
                           "fields": [{"name": "job", "value": burst.field_of(1)}]},
                          {"title": "🔴 2 events", "description": "🔴 burst error #2\n"
                                                                  "🔴 burst error #3"}]}
    log = (f"── ERROR ──\nburst error #2\n{burst.traceback_of(2)}\njob: job-2\n\n"
           f"── ERROR ──\nburst error #3\n{burst.traceback_of(3)[:-20]}\njob: job-3\n\n")
    received = Received("1", "c", payload, "m", 0.0, attachments=(("events.log", log.encode()),))
    assert burst.full_detail_ids(received, 10) == {1, 2}  # #3's traceback is cut
    assert burst.is_digest(received)
