"""JSON lines: one object per line, from any Python JSON logger, into one event per line.

This is logship's hot path (the ingest bar is 200,000 lines/s with less CPU than a plain
`json.loads` loop), so the work per line is kept to what routing needs: one
`orjson.loads`, one dict lookup to find the line's *plan*, a few lookups for the level,
message, logger and exception, one for the kind, and the Event. A plan says which of the
line's keys hold the level, message, time, logger and exception; it is computed once per
key layout (a logger writes only a handful) and cached. The time and the fields (whatever
is left, in place, without a copy when nothing is nested) are worked out only when read:
most lines are routed nowhere (see `JsonEvent`).

Key mapping (the first key present wins; the others stay in `fields`):

- level: level, levelname, severity, lvl, log.level, @l (names, or numbers 10..50);
  unknown names are INFO with the text in `fields["level_name"]`
- message: message, msg, event, @m, @mt
- time: iso_datetime, timestamp, time, asctime, @timestamp, ts, @t (ISO 8601 or epoch
  s/ms/us/ns; naive is UTC); a key whose value is no time stays in `fields`
- logger: logger, name, logger_name, service, log.logger ("service" also stays a
  field, since routes match on it)
- exception: exception, exc_info, traceback, stack, stack_trace, @x; else
  `context.traceback`; else `error.traceback`; else an `error` dict's "type: message";
  else, for ERROR and above, an `error` string (which also stays a field)

`context` (StructuredLogger) is merged into `fields` under its own key names (a name
already taken gets a "context." prefix); other nested dicts become dotted keys. Integers
of 17 to 20 digits (Discord snowflakes) become text. A line that is not a JSON object
still becomes an event: WARNING (or the level found in a cut line), the raw text as
message, and `fields["parse_error"]`. Blank lines are skipped.

tree_log JSON (a key layout with `category` and `iso_datetime`, `run_id` or `daemon`) is
built like any line, then grouped by `tree.TreeJsonGrouper`: a section, an error or a
run banner spread over several lines becomes one event. Only then is anything held back:
the group that may still grow, from the start of its first line (`buffered_from`).
Files without tree_log lines never take that path.
"""

from __future__ import annotations

import gc
import json as stdlib_json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from logship.event import Event, Level
from logship.parse.common import (
    LEVEL_CACHE,
    InexactInteger,
    Line,
    Lines,
    as_text,
    decode,
    fix_in_place,
    flatten,
    level_of,
    line_start,
    parse_ts,
    raw_text,
    strip_surrogates,
)
from logship.parse.kinds import ERROR, LOG, Rule, classify, kind_fields, kind_of, seen_rules
from logship.parse.tree import TREE, TreeJsonGrouper

LEVEL_KEYS = ("level", "levelname", "severity", "lvl", "log.level", "@l")
MESSAGE_KEYS = ("message", "msg", "event", "@m", "@mt")
TIME_KEYS = ("iso_datetime", "timestamp", "time", "asctime", "@timestamp", "ts", "@t")
LOGGER_KEYS = ("logger", "name", "logger_name", "service", "log.logger")
KEPT_LOGGER_KEYS = frozenset({"service"})
EXCEPTION_KEYS = ("exception", "exc_info", "traceback", "stack", "stack_trace", "@x")
CONTEXT_KEY = "context"
ERROR_KEY = "error"
LEVEL_NAME_KEY = "level_name"  # an unknown level's text, kept as a field
NESTED_TRACEBACK_KEYS = ("traceback", "stack_trace", "stack")
_TYPE_KEYS = ("type", "exc_type", "error_type", "kind", "name")
_TEXT_KEYS = ("message", "exc_value", "msg", "value")
TREE_KEY = "category"
TREE_MARKS = frozenset({"iso_datetime", "run_id", "daemon"})

Plan = tuple[
    str | None,  # level key
    str | None,  # message key
    str | None,  # logger key
    bool,  # the logger key also stays a field
    str | None,  # exception key
    bool,  # has a "context" key
    bool,  # has an "error" key
    bool,  # a tree_log layout: group its lines (see `tree`)
    tuple[str, ...],  # time keys present, best first
    tuple[str, ...],  # the keys the event holds apart (not fields): level, message...
]

_INFO = Level.INFO  # a module constant: looking up an enum member costs more
_ERROR = Level.ERROR
_seen, _UNSEEN = seen_rules()
_fromisoformat = datetime.fromisoformat
_new_object = object.__new__

TIME_KEYS_AT, HELD_APART = 8, 9  # (where a Plan keeps them)
_PLANS: dict[tuple[str, ...], Plan] = {}
_PLANS_MAX = 1024

_SALVAGE_LEVEL = re.compile(r'"(?:level|levelname|severity|lvl)"\s*:\s*"([A-Za-z]{2,12})"')
_SALVAGE_MESSAGE = re.compile(r'"(?:message|msg)"\s*:\s*"((?:[^"\\]|\\.){1,2000})')


class JsonParser:
    """Parses JSON lines into events, one per non-blank line (tree_log: one per record).

    >>> parser = JsonParser(source="bot", path="/logs/logs.json")
    >>> [event] = parser.feed([b'{"level": "ERROR", "message": "boom", "context": {}}'], [52])
    >>> event.level.name, event.message, event.kind, event.offset
    ('ERROR', 'boom', 'error', 52)
    """

    __slots__ = ("_grouper", "_position", "path", "source")

    def __init__(self, *, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self._grouper: TreeJsonGrouper | None = None  # made at the first tree_log line
        self._position: int | None = None  # offset past the last line fed

    @property
    def buffered_from(self) -> int | None:
        """Where the held tree_log group starts; None when nothing is held (other lines
        are whole records: nothing is held back for them)."""
        grouper = self._grouper
        return None if grouper is None else grouper.held_from

    def feed(self, lines: Lines, ends: list[int], start: int | None = None) -> list[Event]:
        """One event per non-blank line of `lines`; `ends[i]` is the offset past line i.

        `start` is where the first line begins (default: where the last batch ended).
        """
        if not lines:
            return []
        if start is None:
            start = self._position
        self._position = ends[-1]
        out = self._events(lines, ends)
        grouper = self._grouper
        if grouper is None:
            return out
        if start is None:
            start = line_start(lines[0], ends[0])
        return grouper.group(out, start)

    def _events(self, lines: Lines, ends: list[int]) -> list[Event]:
        """One event per non-blank line; tree_log lines still ungrouped (kind TREE).

        The cyclic garbage collector waits for the end of the batch: a batch allocates
        thousands of objects that stay alive until it is handed out (events, their
        fields), none of them in a cycle, and collecting every 700 allocations would
        walk them again and again (gen 0, then 1, then 2) for nothing. Reference
        counting still frees everything; the collector runs at the next allocation.
        """
        if not gc.isenabled():
            return self._parse_lines(lines, ends)
        gc.disable()
        try:
            return self._parse_lines(lines, ends)
        finally:
            gc.enable()

    def _parse_lines(self, lines: Lines, ends: list[int]) -> list[Event]:
        out: list[Event] = []
        append = out.append
        build = self.build
        loads = orjson.loads
        for line, end in zip(lines, ends, strict=False):
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                event = self._fallback(line, end)
                if event is not None:
                    append(event)
                continue
            if type(record) is dict:
                try:
                    append(build(record, end, line))
                except Exception as exc:  # a safety net: a parser never raises
                    append(self.invalid(line, end, f"unexpected record: {exc!r}"))
            else:
                append(self.invalid(line, end, f"not a JSON object ({type(record).__name__})"))
        return out

    def flush(self) -> list[Event]:
        """Emit the held tree_log group, if any."""
        event = self.take()
        return [] if event is None else [event]

    def take(self) -> Event | None:
        """The held tree_log group as an event (None if none); it is no longer held."""
        grouper = self._grouper
        return None if grouper is None else grouper.take()

    def parse_line(self, line: Line, end: int) -> Event | None:
        """The event for one line (None for a blank line), ungrouped.

        >>> JsonParser(source="s", path="p").parse_line(b'{"msg": "hi"}', 14).message
        'hi'
        """
        events = self._events([line], [end])  # type: ignore[list-item]
        if not events:
            return None
        event = events[0]
        if event.kind == TREE:
            event.kind = classify(event)
        return event

    def build(self, record: dict[str, Any], end: int, line: Line, exact: bool = False) -> Event:
        """The event for one decoded JSON object (consumed: its dict becomes the fields).

        What routing needs is read now: level, message, logger, exception, kind. The time
        and the fields wait until they are read (see `JsonEvent`); `line` is kept until
        then, for the rare record orjson could not read exactly. `exact` says the stdlib
        read it (see `common.fix_value`): its event, like a tree_log line's (the grouper
        reads every field), is a plain Event with everything worked out at once.

        Written flat on purpose: this runs once per line, and every call saved counts.
        """
        keys = tuple(record)
        plan = _PLANS.get(keys)
        if plan is None:
            plan = _plan(keys)
        level_key, message_key, logger_key, _, exc_key, has_ctx, has_err, tree, _, _ = plan

        level = _INFO
        if level_key is not None:
            raw = record[level_key]
            try:
                level = LEVEL_CACHE[raw]
            except (KeyError, TypeError):  # not seen yet, or unhashable
                level, level_name = level_of(raw)
                if level_name is not None:
                    record[LEVEL_NAME_KEY] = level_name

        message = record[message_key] if message_key is not None else ""
        if type(message) is not str:
            message = as_text(message)

        logger = None
        if logger_key is not None:
            logger = record[logger_key]
            if type(logger) is not str:
                logger = as_text(logger) or None

        exception = exception_text(record[exc_key]) if exc_key is not None else None
        context = None
        if has_ctx:
            context = record[CONTEXT_KEY]
            if type(context) is dict:
                if exception is None and "traceback" in context:
                    exception = exception_text(context.pop("traceback"))
            else:
                context = None
        if has_err:
            exception = _error_exception(record, exception, level)
        if not message and exception:
            message = exception.rstrip().rpartition("\n")[2]

        # The kind: what `kinds.kind_of` decides, its usual case (no exception, a message
        # seen before) inlined. The fields the kind adds come with the other fields.
        rule = None
        if tree:
            kind = TREE  # grouped (and classified) after the batch: see `feed`
            if self._grouper is None:
                self._grouper = TreeJsonGrouper(self.source, self.path)
        elif exception:
            kind = ERROR
        else:
            rule = _seen(message, _UNSEEN)
            if rule is _UNSEEN:
                kind, rule = kind_of(level, message, None)
            elif rule is None:
                kind = ERROR if level >= _ERROR else LOG
            elif rule[3] and level >= _ERROR:  # a rule that holds only below ERROR
                kind, rule = ERROR, None
            else:
                kind = rule[0]

        if exact or tree:  # the rare stdlib path; the tree grouper reads every field
            ts, fields = _time_and_fields(record, context, plan, rule, kind, exception, exact)
            if fields is None:  # a huge integer: the stdlib reads the line again
                return self._fallback(line, end)  # type: ignore[return-value]
            return Event(ts, level, message, logger, fields, exception, kind, self.source,
                         self.path, end)

        event = _new_object(JsonEvent)  # every slot but `ts` and `fields`, set here
        event.level = level
        event.message = message
        event.logger = logger
        event.exception = exception
        event.kind = kind
        event.source = self.source
        event.path = self.path
        event.offset = end
        event.fingerprint = None
        event.ack = None
        event._pending = (record, context, plan, rule, line)
        return event

    def invalid(self, line: Line, end: int, reason: str) -> Event:
        """The event for a line that is not a JSON object: its raw text, flagged.

        A cut or torn JSON line still yields its level and message when they can be read.
        """
        text = raw_text(line)
        fields: dict[str, Any] = {"parse_error": reason}
        level, message = Level.WARNING, text
        if text.startswith("{"):
            found = _SALVAGE_LEVEL.search(text)
            if found is not None:
                level = Level.from_name(found.group(1)) or level
            said = _SALVAGE_MESSAGE.search(text)
            if said is not None:
                message = _unescape(said.group(1))
                fields["raw"] = text
        event = Event(None, level, message, None, fields, None, LOG, self.source, self.path, end)
        event.kind = classify(event)
        return event

    def _fallback(self, line: Line, end: int) -> Event | None:
        """What orjson refused: blank lines (skipped), then what the stdlib still reads
        (NaN, Infinity, integers over 64 bits, lone surrogates), else an invalid event."""
        text = decode(line)
        if not text.strip():
            return None
        try:
            record = strip_surrogates(stdlib_json.loads(text))
        except stdlib_json.JSONDecodeError as exc:
            return self.invalid(line, end, f"invalid JSON: {exc.msg} at char {exc.pos}")
        except (ValueError, RecursionError) as exc:
            return self.invalid(line, end, f"invalid JSON: {type(exc).__name__}")
        if type(record) is not dict:
            return self.invalid(line, end, f"not a JSON object ({type(record).__name__})")
        try:
            return self.build(record, end, line, exact=True)
        except Exception as exc:  # a safety net: a parser never raises
            return self.invalid(line, end, f"unexpected record: {exc!r}")


_TS_SLOT = Event.ts  # where a JsonEvent keeps `ts` and `fields` once worked out
_FIELDS_SLOT = Event.fields
_set_ts, _set_fields = _TS_SLOT.__set__, _FIELDS_SLOT.__set__
Pending = tuple[dict[str, Any], dict[str, Any] | None, Plan, Rule | None, Line | None]
"""What a JsonEvent keeps until its time and fields are read: the record, its `context`
dict (None: none), the layout's plan, the rule its message matched, and the line."""


class JsonEvent(Event):
    """An event read from a JSON line: its `ts` and `fields` are worked out when first read.

    Most lines a bot logs are routed nowhere, and routing reads the level, the message,
    the logger, the exception and the kind. The time and the fields (snowflake ids as
    text, `context` merged, nested dicts flattened, the fields the kind adds) cost more
    than all of those, so the event keeps its decoded record and works both out, once,
    when either is read or set. In every other way it is an `Event`.

    >>> [event] = JsonParser(source="s", path="p").feed(
    ...     [b'{"msg": "hi", "user": {"id": 123456789012345678}}'], [50])
    >>> event.message, event.pending
    ('hi', True)
    >>> event.fields, event.pending
    ({'user.id': '123456789012345678'}, False)
    """

    __slots__ = ("_pending",)
    _pending: Pending | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # (what dataclasses.replace calls)
        self._pending = None
        super().__init__(*args, **kwargs)

    @property
    def pending(self) -> bool:
        """Whether `ts` and `fields` are still to be worked out."""
        return self._pending is not None

    @property  # type: ignore[override]
    def ts(self) -> datetime | None:
        if self._pending is not None:
            self.work_out()
        return _TS_SLOT.__get__(self)  # type: ignore[no-any-return]

    @ts.setter
    def ts(self, value: datetime | None) -> None:
        if self._pending is not None:
            self.work_out()
        _set_ts(self, value)

    @property  # type: ignore[override]
    def fields(self) -> dict[str, Any]:
        if self._pending is not None:
            self.work_out()
        return _FIELDS_SLOT.__get__(self)  # type: ignore[no-any-return]

    @fields.setter
    def fields(self, value: dict[str, Any]) -> None:
        if self._pending is not None:
            self.work_out()
        _set_fields(self, value)

    def work_out(self) -> None:
        """Work out `ts` and `fields` from the record now (nothing if done already).

        orjson reads an integer beyond 64 bits as a float: when the fields hold such a
        float, the line is read again by the stdlib, which keeps every digit (a
        snowflake must never become a float).
        """
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        record, context, plan, rule, line = pending
        kind, exception = self.kind, self.exception
        ts, fields = _time_and_fields(record, context, plan, rule, kind, exception, False)
        if fields is None:
            again = self._read_again(line)
            if again is not None:
                ts, fields = again.ts, again.fields
            else:  # not expected: keep the floats
                fields = kind_fields(_fields_of(record, context, True), kind, rule, exception)
        _set_ts(self, ts)
        _set_fields(self, fields)

    def _read_again(self, line: Line | None) -> Event | None:
        """`line` read by the stdlib (see `work_out`); None if it cannot be."""
        if line is None:
            return None
        again = JsonParser(source=self.source, path=self.path)._fallback(line, self.offset)
        return None if again is None or "parse_error" in again.fields else again


def _time_and_fields(record: dict[str, Any], context: dict[str, Any] | None, plan: Plan,
                     rule: Rule | None, kind: str, exception: str | None,
                     exact: bool) -> tuple[datetime | None, dict[str, Any] | None]:
    """The event's time and fields from its record (consumed) and context; fields None
    when orjson read a huge integer as a float (see `common.fix_value`)."""
    for key in plan[HELD_APART]:
        del record[key]
    if context is not None:
        del record[CONTEXT_KEY]
    time_keys = plan[TIME_KEYS_AT]
    ts = _pop_time(record, time_keys) if time_keys else None
    try:
        fields = _fields_of(record, context, exact)
    except InexactInteger:
        return ts, None
    if rule is not None or kind == ERROR:
        fields = kind_fields(fields, kind, rule, exception)
    return ts, fields


def _pop_time(record: dict[str, Any], keys: tuple[str, ...]) -> datetime | None:
    """The first of the time `keys` that holds a time, taken out of `record`; a key whose
    value is no time after all stays in it, as a field."""
    for key in keys:
        stamp = record.pop(key)
        if type(stamp) is str:
            try:
                ts = _fromisoformat(stamp)
            except ValueError:
                ts = parse_ts(stamp)
            else:
                if ts.tzinfo is None:
                    ts = ts.replace(tzinfo=UTC)
        else:
            ts = parse_ts(stamp)
        if ts is not None:
            return ts
        record[key] = stamp
    return None


def _fields_of(record: dict[str, Any], context: dict[str, Any] | None,
               exact: bool) -> dict[str, Any]:
    """The record's remaining keys and its context's as fields: snowflake ints as text,
    nested dicts flattened (see the module doc). Raises InexactInteger (see `fix_value`).

    The usual case (nothing nested, no key in both) is one pass over one dict. Record and
    context merge into a new dict: one allocation, as an update would make (the record's
    dict has no room left), and its size tells whether a key is in both.
    """
    fields = record
    merged = False
    if context:
        if not record:
            fields = context
        else:
            fields = {**record, **context}
            if len(fields) != len(record) + len(context):  # a key in both
                return _with_context(record, context, exact)
            merged = True
    if fix_in_place(fields, exact):  # nested (record and context merged: flatten each alone)
        return (_with_context(record, context, exact)  # type: ignore[arg-type]
                if merged else flatten(fields, exact))
    return fields


def _plan(keys: tuple[str, ...]) -> Plan:
    """Which of a key layout's keys play which role (see the module docstring)."""
    present = set(keys)

    def first(candidates: tuple[str, ...]) -> str | None:
        return next((key for key in candidates if key in present), None)

    level_key, message_key, exc_key = first(LEVEL_KEYS), first(MESSAGE_KEYS), first(EXCEPTION_KEYS)
    logger_key = first(LOGGER_KEYS)
    keep_logger = logger_key in KEPT_LOGGER_KEYS
    held_apart = (level_key, message_key, None if keep_logger else logger_key, exc_key)
    plan: Plan = (
        level_key,
        message_key,
        logger_key,
        keep_logger,
        exc_key,
        CONTEXT_KEY in present,
        ERROR_KEY in present,
        TREE_KEY in present and not TREE_MARKS.isdisjoint(present),
        tuple(key for key in TIME_KEYS if key in present),
        tuple(key for key in held_apart if key is not None),
    )
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[keys] = plan
    return plan


def exception_text(value: object) -> str | None:
    """Exception text from a JSON value: a traceback string, a list of them, or a dict
    such as structlog's dict tracebacks or {"type": ..., "message": ...}.

    >>> exception_text({"type": "ValueError", "message": "bad"})
    'ValueError: bad'
    >>> exception_text(None) is None, exception_text(True) is None
    (True, True)
    """
    kind = type(value)
    if kind is str:
        return value or None  # type: ignore[return-value]
    if not value or value is True:
        return None
    if kind is list:
        parts = [exception_text(item) for item in value]  # type: ignore[attr-defined]
        return "\n".join(part for part in parts if part) or None
    if kind is dict:
        return error_summary(value) or as_text(value)  # type: ignore[arg-type]
    return as_text(value)


def error_summary(error: dict[str, Any]) -> str | None:
    """ "Type: message" from an error dict, or whichever half of it is there.

    >>> error_summary({"type": "KeyError", "message": "'x'"}), error_summary({"code": 1})
    ("KeyError: 'x'", None)
    """
    kind = next((error[k] for k in _TYPE_KEYS if type(error.get(k)) is str), None)
    text = next((error[k] for k in _TEXT_KEYS if type(error.get(k)) is str), None)
    if kind and text:
        return f"{kind}: {text}"
    return kind or text or None


def _error_exception(record: dict[str, Any], exception: str | None, level: Level) -> str | None:
    """The exception an `error` key adds, if the record named none yet (see module doc)."""
    error = record[ERROR_KEY]
    if type(error) is dict:
        for key in NESTED_TRACEBACK_KEYS:
            if key in error:
                trace = exception_text(error.pop(key))
                if exception is None:
                    exception = trace
        return exception or error_summary(error)
    if exception is None and type(error) is str and error and level >= Level.ERROR:
        return error
    return exception


def _with_context(record: dict[str, Any], context: dict[str, Any], exact: bool) -> dict[str, Any]:
    """Record and context fixed and flattened each on its own, then merged (a key of the
    context already taken gets a "context." prefix)."""
    fields = flatten(record, exact) if fix_in_place(record, exact) else record
    if fix_in_place(context, exact):
        context = flatten(context, exact)
    if not fields:
        return context
    if fields.keys().isdisjoint(context):
        fields.update(context)
    else:
        _merge(fields, context)
    return fields


def _merge(fields: dict[str, Any], context: dict[str, Any]) -> None:
    """`context`'s keys added to `fields`; a key already there is kept as "context.key"."""
    for key, value in context.items():
        fields[f"{CONTEXT_KEY}.{key}" if key in fields else key] = value


def _unescape(body: str) -> str:
    """A JSON string body as text, even when it was cut inside an escape."""
    for cut in (body, body.rstrip("\\"), body[: body.rfind("\\")] if "\\" in body else body):
        try:
            return strip_surrogates(stdlib_json.loads(f'"{cut}"'))  # type: ignore[no-any-return]
        except ValueError:
            continue
    return body
