"""Parser invariants over any input: never raise, keep order, cover every line once.

The checkpoint relies on these: event offsets only grow, each is the end of a real line,
`buffered_from` never lets the checkpoint pass a line no event has covered yet, and
after `flush()` every non-blank line belongs to exactly one event. How a file is cut
into batches must not change the events either.
"""

from __future__ import annotations

import json
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from logship.event import Event
from logship.parse import make_parser

FORMATS = ("json", "text", "auto", "tree")

FRAGMENTS = (
    '{"timestamp": "2025-07-15T20:44:03.120044+00:00", "level": "INFO", "message": "Member '
    'join recorded: alice#0", "context": {"member_id": 123456789012345678}, "service": "S"}',
    '{"timestamp": "[07/15 03:44 PM EST]", "level": "INFO", "category": "tree_item", '
    '"message": "\\u251c\\u2500 id: 1", "run_id": "A4E19B07", "iso_datetime": '
    '"2025-07-15T15:44:02.482001-05:00"}',
    '{"level": "ERROR", "message": "cut', "{", "{}", "[1]", '"text"', "null",
    '{"level": 40, "msg": "x", "error": {"type": "E", "message": "m"}}',
    "ERROR:bot:failed", "INFO:root:ok", "[ERROR] plain", "[2025-07-15 20:42:07] [INFO] [m] x",
    "2025-07-16 12:00:00,123 - bot - WARNING - w", "[07/15 03:42 PM EST] [INFO] ",
    "Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
    "    foo()", "    ^^^^^", "ValueError: bad", "KeyboardInterrupt",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
    "  + Exception Group Traceback (most recent call last):", "  | ValueError: 1",
    "", " ", "\t", "\r", "plain words", "  ├─ id: 1", "Stack (most recent call last):",
)

realistic_line = st.sampled_from(FRAGMENTS).map(str.encode)
any_bytes_line = st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" "))
any_text_line = st.text(max_size=60).map(lambda s: s.replace("\n", " ").encode())
line = st.one_of(realistic_line, realistic_line, any_bytes_line, any_text_line)


def is_blank(raw: bytes) -> bool:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return not text or text.isspace()


def with_ends(lines: list[bytes], base: int) -> list[int]:
    ends, pos = [], base
    for raw in lines:
        pos += len(raw) + 1
        ends.append(pos)
    return ends


def cut(lines: list[bytes], ends: list[int], cuts: list[int]) -> list[tuple[list, list]]:
    points = sorted({0, len(lines), *(c % (len(lines) + 1) for c in cuts)})
    return [(lines[a:b], ends[a:b]) for a, b in pairwise(points)]


def run(fmt: str, batches: list[tuple[list, list]], base: int) -> list[Event]:
    """Feed the batches, checking the holding invariants after each; then flush."""
    parser = make_parser(fmt, source="s", path="p")
    events: list[Event] = []
    nonblank_ends: list[int] = []
    line_starts = {base}  # where each line fed so far starts
    for lines, ends in batches:
        events += parser.feed(lines, ends)
        nonblank_ends += [e for raw, e in zip(lines, ends, strict=True) if not is_blank(raw)]
        line_starts.update(ends[:-1])
        emitted = events[-1].offset if events else base
        held = parser.buffered_from
        if held is None:
            assert all(e <= emitted for e in nonblank_ends)
        else:
            assert held in line_starts, "a held record starts where a line starts"
            assert emitted <= held < ends[-1]
            assert all(e <= emitted for e in nonblank_ends if e <= held)
        if ends:
            line_starts.add(ends[-1])
    events += parser.flush()
    assert parser.buffered_from is None
    assert parser.flush() == []
    offsets = [e.offset for e in events]
    assert offsets == sorted(set(offsets)), "offsets strictly increase"
    assert set(offsets) <= set(nonblank_ends), "each event ends on a non-blank line"
    if nonblank_ends:
        assert offsets[-1] == nonblank_ends[-1], "after flush, every line is covered"
    else:
        assert events == []
    return events


@settings(max_examples=150, deadline=None)
@given(st.lists(line, max_size=40), st.lists(st.integers(0, 60), max_size=6),
       st.integers(0, 10_000), st.sampled_from(FORMATS))
def test_any_lines_any_batches(lines: list[bytes], cuts: list[int], base: int,
                               fmt: str) -> None:
    ends = with_ends(lines, base)
    batched = run(fmt, cut(lines, ends, cuts), base)
    whole = run(fmt, [(lines, ends)], base)
    assert batched == whole, "batch boundaries do not change the events"
    if fmt == "json":
        assert len(whole) == sum(not is_blank(raw) for raw in lines)
    for event in whole:
        event.message.encode("utf-8")  # everything can be sent on
        (event.exception or "").encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40).map(lambda s: s.replace("\n", " ")), max_size=20),
       st.sampled_from(("text", "auto")))
def test_str_lines_parse_like_their_bytes(texts: list[str], fmt: str) -> None:
    raw = [t.encode() for t in texts]
    ends = with_ends(raw, 0)
    from_bytes = run(fmt, [(raw, ends)], 0)
    parser = make_parser(fmt, source="s", path="p")
    from_str = parser.feed(texts, ends) + parser.flush()
    assert from_str == from_bytes


snowflake = st.integers(10**16, 10**20 - 1)
plain = st.one_of(st.integers(-(10**15), 10**15), st.text(max_size=10), st.booleans(),
                  st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))


@settings(max_examples=150, deadline=None)
@given(snowflake, snowflake, snowflake, st.dictionaries(st.sampled_from("abcde"), plain),
       st.sampled_from(("json", "auto")))
def test_snowflakes_are_kept_as_text(top: int, nested: int, listed: int,
                                     extra: dict[str, object], fmt: str) -> None:
    record = {"level": "INFO", "message": "m", **extra, "member_id": top,
              "context": {"guild_id": nested, "ids": [listed, 1]}}
    parser = make_parser(fmt, source="s", path="p")
    [event] = parser.feed([json.dumps(record).encode()], [1])
    assert event.fields["member_id"] == str(top)
    assert event.fields["guild_id"] == str(nested)
    assert event.fields["ids"] == [str(listed), 1]
    for key, value in extra.items():
        assert event.fields[key] == value
