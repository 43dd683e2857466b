"""Parser invariants over any input: never raise, keep order, cover every line once.

The checkpoint relies on these: event offsets only grow, each is the end of a real line,
`buffered_from` never lets the checkpoint pass a line no event has covered yet, and
after `flush()` every line with something to say belongs to an event. Lines that say
nothing (blank lines, tree_log's blank records, banner rules with nothing between them)
may be dropped. How a file is cut into batches must not change the events either.

Inputs: real lines of every format (formats.md), random mutations of them (bytes cut,
inserted, replaced, lines torn), random bytes and random text.
"""

from __future__ import annotations

import json
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from logship.event import Event
from logship.parse import json as json_module
from logship.parse import make_parser
from logship.parse.text import scan
from logship.parse.tree import is_banner, is_filler

FORMATS = ("json", "text", "auto", "tree")

TREE_JSON = (
    '{"timestamp": "[07/15 03:44 PM EST]", "level": "INFO", "category": "%s", "message": "%s", '
    '"run_id": "A4E19B07", "iso_datetime": "2025-07-15T15:44:02.48%d-05:00"}'
)
FRAGMENTS = (
    # StructuredLogger JSON and other JSON loggers
    '{"timestamp": "2025-07-15T20:44:03.120044+00:00", "level": "INFO", "message": "Member '
    'join recorded: alice#0", "context": {"member_id": 123456789012345678}, "service": "S"}',
    '{"level": "WARNING", "message": "High memory usage: 84.12MB (threshold: 80.00MB)", '
    '"context": {"memory_mb": 84.12, "threshold_mb": 80.0}}',
    '{"level": "WARNING", "message": "Slow operation detected: x took 2450.12ms", "context": {},'
    ' "operation": "x", "duration_ms": 2450.12}',
    '{"level": "CRITICAL", "message": "Maximum reconnection attempts reached", "context": {}}',
    '{"asctime": "2025-07-15 20:42:07,123", "levelname": "ERROR", "name": "bot", "message": '
    '"x", "exc_info": "Traceback (most recent call last):\\nValueError: v"}',
    '{"event": "cache miss", "level": "warning", "timestamp": "2025-07-15T20:42:07Z"}',
    '{"level": "ERROR", "message": "cut', "{", "{}", "[1]", '"text"', "null",
    '{"level": 40, "msg": "x", "error": {"type": "E", "message": "m"}}',
    # tree_log JSON
    TREE_JSON % ("perfect_tree_section", "\\u27a1\\ufe0f Member Join", 1),
    TREE_JSON % ("tree_item", "\\u251c\\u2500 id: 123456789012345678", 2),
    TREE_JSON % ("tree_item", "\\u2514\\u2500 member: alice#0", 3),
    TREE_JSON % ("error", "\\u274c ERROR: Failed", 4),
    TREE_JSON % ("error_detail", "\\u2514\\u2500 HTTPException: 503", 5),
    TREE_JSON % ("traceback", '   File \\"x.py\\", line 1, in f', 6),
    TREE_JSON % ("run_header", "=" * 20, 7),
    TREE_JSON % ("run_header", "\\ud83d\\udd04 NEW BOT RUN SESSION", 8),
    TREE_JSON % ("run_end", "", 9),
    TREE_JSON % ("mystery", "\\ud83d", 9),
    '{"timestamp": "[07/15 03:42 PM UTC-05:00]", "level": "INFO", "category": "run_header", '
    '"message": "x", "daemon": "logsync", "iso_datetime": "2025-07-16T15:42:00-05:00"}',
    # tree_log text
    "[07/15 03:42 PM EST] [INFO] ", "[07/15 03:42 PM EST] [INFO] " + "=" * 30,
    "[07/15 03:42 PM EST] [INFO] 🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST",
    "[07/15 03:44 PM EST] [INFO] ➡️ Member Join", "[07/15 03:44 PM EST] [INFO] ├─ id: 1",
    "[07/15 03:44 PM EST] [INFO] └─ date: 2025-07-15", "[12/31 11:59 PM EST] [INFO] │",
    "[07/15 04:42 PM EST] [ERROR] ❌ ERROR: Failed to update heartbeat",
    "[07/15 04:42 PM EST] [ERROR] └─ HTTPException: 503 Service Unavailable",
    '[07/15 04:42 PM EST] [ERROR]    File "/opt/x.py", line 265, in update_heartbeat',
    "    embed = await self.create_heartbeat_embed()",
    "[07/15 05:00 PM EST] [CRITICAL] ❌ CRITICAL: Invalid bot token",
    "[13/45 99:99 PM EST] [INFO] impossible", "[02/29 12:00 AM XYZ] [WARN] leap",
    "[07/15 04:44 PM EST] [ERROR] ", "[07/15 04:44 PM EST] [ERROR] ValueError: first",
    "[07/15 04:44 PM EST] [ERROR] Traceback (most recent call last):",
    "[07/15 04:44 PM EST] [ERROR] During handling of the above exception, another exception "
    "occurred:", "            ^^^^^^^^^^^^^^^^",
    # StructuredLogger text
    "[2025-07-15 20:42:07] [INFO] [m] Heartbeat updated (cpu=0.3% next=in 60 minutes)",
    "[2025-07-15 20:42:07] [ERROR] [m] Failed [error=HTTPException: 503 (code: 0)]",
    "[2025-07-15 20:42:07] [INFO] Saved (n=1) [operation=save, duration=12.50ms]",
    # sibling bots' tree logger
    "[03:42:09 PM EDT] 🤖 Bot Ready", "  ├─ Bot ID: 1234567890", "  │   └─ nested: x",
    "  └─ Latency: 52ms", "═" * 40, "═══ RUN ID: a1b2c3d4 ═══", "[03:45:00 PM EDT] 💥 boom",
    "RUN ID: a1b2c3d4", "[03:43:00 PM EDT] ⚠️ Slow", "[11:59:59 PM EDT] 🚨 crashed",
    # Python logging and tracebacks
    "ERROR:bot:failed", "INFO:root:ok", "[ERROR] plain",
    "2025-07-16 12:00:00,123 - bot - WARNING - w", "2025-07-15 20:42:07,123 ERROR bot: e",
    "Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
    "    foo()", "    ^^^^^", "    ~~~^~~", "ValueError: bad", "KeyboardInterrupt",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
    "  + Exception Group Traceback (most recent call last):", "  | ValueError: 1",
    "", " ", "\t", "\r", "plain words", "  ├─ id: 1", "Stack (most recent call last):",
)

realistic_line = st.sampled_from(FRAGMENTS).map(str.encode)


@st.composite
def mutated_line(draw: st.DrawFn) -> bytes:
    """A real line with a few random edits: cut, insert, replace, truncate."""
    data = bytearray(draw(realistic_line))
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(("cut", "insert", "replace", "truncate")))
        where = draw(st.integers(0, len(data)))
        if edit == "cut":
            del data[where:where + draw(st.integers(1, 8))]
        elif edit == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=6))
        elif edit == "replace" and where < len(data):
            data[where] = draw(st.integers(0, 255))
        else:
            del data[where:]
    return bytes(data).replace(b"\n", b" ")


any_bytes_line = st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" "))
any_text_line = st.text(max_size=60).map(lambda s: s.replace("\n", " ").encode())
line = st.one_of(realistic_line, realistic_line, realistic_line, mutated_line(),
                 mutated_line(), any_bytes_line, any_text_line)


def is_blank(raw: bytes) -> bool:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return not text or text.isspace()


def says_nothing(raw: bytes, fmt: str) -> bool:
    """A line a parser may drop: blank, or with nothing but a prefix, a rule or a tree_log
    JSON record with an empty message. (A superset: such lines may also join a record.)"""
    if is_blank(raw):
        return True
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    if text[:1] == "{":
        return fmt != "text" and _empty_tree_json(text)
    if fmt == "json":
        return False
    scanned = scan(text)
    if scanned is not None and is_filler(scanned[4]):
        return True
    return is_banner(text)


def _empty_tree_json(text: str) -> bool:
    try:
        record = json.loads(text)
    except ValueError:
        return False
    if type(record) is not dict or json_module.TREE_KEY not in record:
        return False
    if json_module.TREE_MARKS.isdisjoint(record):
        return False
    key = next((k for k in json_module.MESSAGE_KEYS if k in record), None)
    message = record.get(key) if key else ""
    return type(message) is str and is_filler(message)


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
    parser = make_parser(fmt, source="s", path="logs/2025-07-15/p")
    events: list[Event] = []
    nonblank_ends: list[int] = []  # lines an event may end on
    content_ends: list[int] = []  # lines an event must cover
    line_starts = {base}  # where each line fed so far starts
    for lines, ends in batches:
        events += parser.feed(lines, ends)
        for raw, end in zip(lines, ends, strict=True):
            if not is_blank(raw):
                nonblank_ends.append(end)
            if not says_nothing(raw, fmt):
                content_ends.append(end)
        line_starts.update(ends[:-1])
        emitted = events[-1].offset if events else base
        held = parser.buffered_from
        if held is None:
            assert all(e <= emitted for e in content_ends), "a line was lost"
        else:
            assert held in line_starts, "a held record starts where a line starts"
            assert emitted <= held < ends[-1]
            assert all(e <= emitted for e in content_ends if e <= held)
        if ends:
            line_starts.add(ends[-1])
    events += parser.flush()
    assert parser.buffered_from is None
    assert parser.flush() == []
    offsets = [e.offset for e in events]
    assert offsets == sorted(set(offsets)), "offsets strictly increase"
    assert set(offsets) <= set(nonblank_ends), "each event ends on a non-blank line"
    if content_ends:
        assert offsets and offsets[-1] >= content_ends[-1], "after flush, every line is covered"
    return events


def check_event(event: Event) -> None:
    event.message.encode("utf-8")  # everything can be sent on
    (event.exception or "").encode("utf-8")
    assert event.kind in ("error", "performance", "member", "status", "log")
    for key, value in event.fields.items():
        assert isinstance(key, str)
        assert not isinstance(value, float) or not (
            key.endswith("_id") and value == value), "an id must never be a float"


@settings(max_examples=300, deadline=None)
@given(st.lists(line, max_size=40), st.lists(st.integers(0, 60), max_size=6),
       st.integers(0, 10_000), st.sampled_from(FORMATS))
def test_any_lines_any_batches(lines: list[bytes], cuts: list[int], base: int,
                               fmt: str) -> None:
    ends = with_ends(lines, base)
    batched = run(fmt, cut(lines, ends, cuts), base)
    whole = run(fmt, [(lines, ends)], base)
    assert batched == whole, "batch boundaries do not change the events"
    if fmt == "json" and not any(b'"category"' in raw for raw in lines):
        assert len(whole) == sum(not is_blank(raw) for raw in lines)
    for event in whole:
        check_event(event)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(mutated_line(), any_bytes_line), max_size=30),
       st.sampled_from(FORMATS))
def test_mutated_real_lines_never_crash_and_are_never_lost(lines: list[bytes],
                                                           fmt: str) -> None:
    for event in run(fmt, [(lines, with_ends(lines, 0))], 0):
        check_event(event)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS),
                          st.text(max_size=40).map(lambda s: s.replace("\n", " "))),
                max_size=20),
       st.sampled_from(("text", "auto", "tree")))
def test_str_lines_parse_like_their_bytes(texts: list[str], fmt: str) -> None:
    raw = [t.encode("utf-8", "surrogatepass") for t in texts]
    ends = with_ends(raw, 0)
    from_bytes = run(fmt, [(raw, ends)], 0)
    parser = make_parser(fmt, source="s", path="logs/2025-07-15/p")
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


@settings(max_examples=150, deadline=None)
@given(snowflake, snowflake, st.sampled_from(("text", "auto", "tree")))
def test_snowflakes_in_text_formats_stay_exact(member: int, guild: int, fmt: str) -> None:
    lines = [
        f"[2025-07-15 20:44:01] [INFO] Member joined: a#0 (member_id={member} "
        f"guild_id={guild})".encode(),
        b"[07/15 03:44 PM EST] [INFO] \xe2\x9e\xa1\xef\xb8\x8f Member Join",
        f"[07/15 03:44 PM EST] [INFO] \u2514\u2500 id: {member}".encode(),
    ]
    parser = make_parser(fmt, source="s", path="p")
    first, second = parser.feed(lines, with_ends(lines, 0)) + parser.flush()
    assert (first.fields["member_id"], first.fields["guild_id"]) == (str(member), str(guild))
    assert second.fields["member_id"] == str(member)
