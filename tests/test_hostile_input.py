"""Hostile input through parse → cap → redact → payload: random bytes and text, huge
lines, JSON with a great many fields or nested deeper than orjson's 1024 levels, records
with thousands of continuation lines. Every payload must be one Discord accepts (checked
by `tests/discord_schema.py`, independent of logship's own code) and nothing may raise.

A 50 MB line through the real reader and parser must give bounded output for bounded
memory (tracemalloc's peak, not time)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.event import Event
from logship.parse import PARSERS, make_parser
from logship.pipeline.outgoing import cap_event, event_bytes
from logship.redact import Redactor
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.render import Renderer
from logship.sinks.discord.url import WebhookURL
from logship.tail.reader import TailedFile
from tests.discord_schema import execute_webhook_errors

URL = WebhookURL.parse("http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token")
MAX_LINE = 65536
MAX_EVENT = 1 << 20
REDACTOR = Redactor()
RENDERERS = [Renderer(discord_sink(name="embeds", url=URL), redactor=REDACTOR),
             Renderer(discord_sink(name="text", url=URL, embeds=False), redactor=REDACTOR)]


def ship(format: str, lines: list[bytes]) -> list[Event]:
    """What the daemon does with `lines`: parse (as the reader hands them out, cut at
    MAX_LINE), cap, then render every event for both kinds of sink and check the body."""
    lines = [line.replace(b"\n", b"")[:MAX_LINE] for line in lines]
    ends, offset = [], 0
    for line in lines:
        offset += len(line) + 1
        ends.append(offset)
    parser = make_parser(format, source="fuzz", path="/fuzz.log")
    events = [*parser.feed(lines, ends), *parser.flush()]
    shipped = [cap_event(event, MAX_EVENT) for event in events]
    for event in shipped:
        assert event_bytes(event) <= MAX_EVENT
        for renderer in RENDERERS:
            embeds = [renderer.embed(event), renderer.minimal(event), *renderer.digest([event])[0]]
            while embeds:  # in as many messages as the worker would use
                count = renderer.pack(embeds)
                message = renderer.payload(embeds[:count])
                assert execute_webhook_errors(message.body) == []
                assert len(orjson.dumps(message.body)) < 64 * 1024  # BODY_RESERVE holds
                embeds = embeds[count:]
    return shipped


def huge(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def many_fields(count: int) -> bytes:
    return orjson.dumps({"level": "ERROR", "message": "wide", **{f"f{i}": i for i in range(count)}})


def traceback_record(frames: int) -> list[bytes]:
    body = [b'  File "bot.py", line %d, in handler' % i for i in range(frames)]
    return [b"ERROR:bot:boom", b"Traceback (most recent call last):", *body, b"ValueError: x"]


hostile_lines = st.one_of(
    st.lists(st.binary(max_size=300), max_size=20),
    st.lists(st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
             max_size=20),
    st.builds(lambda unit, size: [huge(unit, size)],
              st.sampled_from([b"x", b"\xff\xfe", "é🚨".encode(), b"`", b"@everyone ",
                               b"token=abc ", b'{"a":']),
              st.integers(1000, 3 * MAX_LINE)),
    st.integers(1, 20_000).map(lambda n: [many_fields(n)]),
    st.integers(1000, 5000).map(lambda n: [nested(n)]),
    st.integers(1, 3000).map(traceback_record),
    st.lists(st.sampled_from([b"    indented", b"", b"Traceback (most recent call last):",
                              b"During handling of the above exception, another exception "
                              b"occurred:", b"KeyError: 'x'", b"\xe2\x94\x9c\xe2\x94\x80 k: v",
                              b"[07/15 03:44 PM EST] ERROR x", b'{"level": "ERROR"}']),
             max_size=400),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(format=st.sampled_from(sorted(PARSERS)), lines=hostile_lines)
def test_hostile_input_always_makes_valid_payloads(format: str, lines: list[bytes]) -> None:
    ship(format, lines)


def test_json_nested_deeper_than_orjson_allows_is_still_an_event() -> None:
    (event,) = ship("json", [nested(5000)])
    assert event.message


def test_a_json_line_with_a_million_fields_is_cut_to_the_event_cap() -> None:
    line = many_fields(1_000_000)
    parser = make_parser("json", source="fuzz", path="/fuzz.log")
    (event,) = parser.feed([line], [len(line) + 1])
    capped = cap_event(event, MAX_EVENT)
    assert event_bytes(capped) <= MAX_EVENT and capped.fields["truncated"] is True
    for renderer in RENDERERS:
        assert execute_webhook_errors(renderer.payload([renderer.embed(capped)]).body) == []


def test_a_50_mb_line_costs_bounded_memory_and_gives_bounded_output(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    with path.open("wb") as out:
        out.write(b"ERROR:bot:first\n")
        chunk = huge(b"token=abc x ", 1 << 20)
        for _ in range(50):
            out.write(chunk)
        out.write(b"\nINFO:bot:after\n")
    tracemalloc.start()
    try:
        reader = TailedFile.open(str(path), 0, MAX_LINE)
        parser = make_parser("auto", source="bot", path=str(path))
        events: list[Event] = []
        while (batch := reader.read_lines()) is not None:
            events += parser.feed(batch.lines, batch.ends)
        events += parser.flush()
        reader.close()
        shipped = [REDACTOR.redact_event(cap_event(e, MAX_EVENT)) for e in events]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # against a 50 MiB line
    assert sum(event_bytes(e) for e in shipped) < 4 * MAX_LINE
    assert shipped[0].message.startswith("first") and shipped[-1].message == "after"
    assert "abc" not in "".join(e.message for e in shipped)
