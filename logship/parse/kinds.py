"""The one place that decides an event's `kind`, and adds the fields that kind carries.

Every parser calls `classify` on each event it builds. Kinds, in order of precedence:

- "error": the event carries an exception (a traceback, an exception text);
- "member": a member joined, left, was banned or unbanned ("Member join recorded:
  alice#0", "Member left: bob#0", tree_log's "➡️ Member Join" section...);
- "performance": a slow operation or a resource over its threshold ("Slow operation
  detected: X took N ms", "High memory usage: 84.12MB (threshold: 80.00MB)");
- "status": the bot's life: run start and end, heartbeats, reconnects, "Maximum
  reconnection attempts reached" (heartbeats and reconnects only below ERROR: a failed
  heartbeat at ERROR is an error);
- "error": anything else at ERROR or above;
- "log": the rest.

Fields added (never overwriting what the record already has):

| kind        | fields                                                              |
|-------------|---------------------------------------------------------------------|
| error       | error_type (from the exception's last line or an `error` field)     |
| member      | event_type (join/leave/ban/unban), member_id, member_name, guild_id, |
|             | guild_name; aliases (username, user_id, id, member...) are renamed  |
| performance | event_type (slow_operation/high_usage), metric (duration, memory,   |
|             | cpu...), value, unit, threshold, ratio (value/threshold), operation |
| status      | event_type (run_start, run_end, heartbeat, reconnect,               |
|             | reconnect_failed), run_id when the message names it                 |

The message is matched from its start, after any leading emoji or symbols, by one small
regex per first letter. This runs for every JSON line, so the work is split: what the
message alone decides (the rule, and the fields read from the message) is computed once
per distinct message text and remembered (messages up to 256 characters, 4096 of them);
per event only the fields that depend on the record are added, with a few dict
operations. Member field renames are planned once per field layout the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from logship.event import Event, Level

ERROR = "error"
PERFORMANCE = "performance"
MEMBER = "member"
STATUS = "status"
LOG = "log"
KINDS = (ERROR, PERFORMANCE, MEMBER, STATUS, LOG)

_ERROR_LEVEL = Level.ERROR  # a module constant: looking up an enum member costs more


_NUM = r"-?\d+(?:[.,]\d+)?"
_SIZE_UNIT = r"[KMGT]i?B|[kmgt]i?b|bytes|%"
_TIME_UNIT = r"ms|µs|us|s|sec|seconds"

# (rule name, regex from the first letter, the letters it can start with). Group names
# are unique across rules: one regex per letter holds every rule that letter can start.
_RULES: tuple[tuple[str, str, str], ...] = (
    ("member", r"(?:member|user)\s+(?P<member_action>join|left|leav|unban|ban)(?:ed|ing|s|e|es"
               r"|ned|ning)?\b", "mu"),
    ("slow", r"slow\s+(?:operation|query|command|request|task|call|response)s?\b"
             r"(?:\s+detected)?(?:\s*:\s*(?P<slow_op>[\w./\-]+)\s+took\s+(?P<slow_value>"
             + _NUM + r")\s*(?P<slow_unit>" + _TIME_UNIT + r")?\b)?", "s"),
    ("usage", r"(?:high|critical|elevated|excessive)\s+(?P<usage_metric>memory|cpu|disk|ram)\b"
              r"(?:\s+usage)?(?:\s*:\s*(?P<usage_value>" + _NUM + r")\s*(?P<usage_unit>"
              + _SIZE_UNIT + r")?(?:\s*\(\s*threshold\s*:\s*(?P<usage_limit>" + _NUM
              + r")\s*(?:" + _SIZE_UNIT + r")?\s*\))?)?", "hce"),
    ("heartbeat", r"heartbeat\b", "h"),
    ("reconnect_failed", r"max(?:imum)?\s+(?:number\s+of\s+)?reconnect(?:ion)?\s+attempts\b",
     "m"),
    ("reconnect", r"(?:reconnect(?:ing|ed)?\b|attempting\s+to\s+reconnect|connection\s+"
                  r"(?:lost|restored|closed)|disconnected\b|(?:session\s+)?resumed\b|"
                  r"gateway\s+(?:reconnect|resum|disconnect))", "racdsg"),
    ("run_start", r"(?:new\s+(?:bot\s+)?run\s+(?:session|started)|run\s+started|bot\s+"
                  r"(?:is\s+)?(?:ready|online|started|starting)\b|logged\s+in\s+as\b|"
                  r"starting\s+(?:bot|up)\b)", "nrbls"),
    ("run_end", r"(?:end\s+of\s+(?:bot\s+)?(?:run\s+)?session|run\s+ended|bot\s+(?:is\s+)?"
                r"(?:shutting\s+down|stopped|stopping|offline|shut\s+down)\b|shutting\s+down\b)",
     "erbs"),
)

_ACTIONS = {"join": "join", "left": "leave", "leav": "leave", "ban": "ban", "unban": "unban"}
# alias -> (canonical name, is an id, rank: the lower wins when several are present)
_MEMBER_KEYS: dict[str, tuple[str, bool, int]] = {
    **{k: ("member_id", True, r) for r, k in enumerate(
        ("member_id", "user_id", "memberId", "userId", "member.id", "user.id", "id"))},
    **{k: ("member_name", False, r) for r, k in enumerate(
        ("member_name", "username", "user_name", "member", "user", "display_name",
         "member.name", "user.name", "name"))},
    **{k: ("guild_id", True, r) for r, k in enumerate(
        ("guild_id", "guildId", "server_id", "guild.id", "guild"))},
    **{k: ("guild_name", False, r) for r, k in enumerate(
        ("guild_name", "server_name", "guild.name", "server", "guild"))},
}
_EITHER = frozenset({"member", "user", "name", "id", "guild"})  # name or id, by the value
_DIGITS = re.compile(r"\d{1,20}")

_TOOK = re.compile(r"\btook\s+(" + _NUM + r")\s*(" + _TIME_UNIT + r")?\b", re.IGNORECASE)
_THRESHOLD = re.compile(r"\b(?:threshold|limit)\s*[:=]\s*(" + _NUM + r")", re.IGNORECASE)
_VALUE = re.compile(r":\s*(" + _NUM + r")\s*(" + _SIZE_UNIT + r")?")
_OPERATION = re.compile(r"[:\s]\s*([\w./\-]+)\s+took\b")
_RUN_ID = re.compile(r"\brun[ _-]?id\s*[:=]\s*`?([A-Za-z0-9][\w-]{2,63})", re.IGNORECASE)
_EXCEPTION_HEAD = re.compile(r"([A-Za-z_][\w.]*)(?::\s|:$|$)")
_LEAD = re.compile(r"[\W_]+")


def classify(event: Event) -> str:
    """The kind of a parsed event; adds the fields its kind carries (see the module doc).

    >>> classify(Event(ts=None, level=Level.ERROR, message="boom"))
    'error'
    >>> classify(Event(ts=None, level=Level.INFO, message="ok", exception="ValueError: x"))
    'error'
    >>> classify(Event(ts=None, level=Level.INFO, message="ok"))
    'log'
    >>> event = Event(ts=None, level=Level.WARNING,
    ...               message="High memory usage: 84.12MB (threshold: 80.00MB)")
    >>> classify(event), event.fields["ratio"], event.fields["unit"]
    ('performance', 1.052, 'MB')
    >>> event = Event(ts=None, level=Level.INFO, message="➡️ Member Join",
    ...               fields={"member": "alice#0", "id": "123456789012345678"})
    >>> classify(event), event.fields
    ('member', {'event_type': 'join', 'member_id': '123456789012345678', \
'member_name': 'alice#0'})

    """
    kind, rule = kind_of(event.level, event.message, event.exception)
    event.fields = kind_fields(event.fields, kind, rule, event.exception)
    return kind


def kind_of(level: Level, message: str, exception: str | None) -> tuple[str, Rule | None]:
    """The kind of an event, and the rule its message matched (None: no rule applies).

    The first half of `classify`: it reads no field, so the JSON parser can decide a
    line's kind (routing needs it) and leave the fields until someone reads them.

    >>> kind_of(Level.INFO, "Member left: bob#0", None)[0], kind_of(Level.ERROR, "x", None)
    ('member', ('error', None))
    """
    if exception:
        return ERROR, None
    rule = rule_of(message)
    if rule is not None and (not rule[3] or level < _ERROR_LEVEL):
        return rule[0], rule
    return (ERROR if level >= _ERROR_LEVEL else LOG), None


def kind_fields(fields: Fields, kind: str, rule: Rule | None, exception: str | None) -> Fields:
    """`fields` with those an event of `kind` carries added (never over the record's own);
    the second half of `classify`. Returns `fields` itself, changed, or a new dict.

    >>> kind_fields({}, *kind_of(Level.ERROR, "boom", "KeyError: 'x'"), "KeyError: 'x'")
    {'error_type': 'KeyError'}
    """
    if rule is None:
        if kind == ERROR:
            error_fields(fields, exception)
        return fields
    _, static, handler, _, event_type = rule
    if event_type is not None:
        if "event_type" not in fields:
            fields["event_type"] = event_type
        return fields
    if handler is None:
        return static | fields  # the record's own values win
    return handler(fields, static)


Static = dict[str, Any]
Fields = dict[str, Any]
Rule = tuple[str, Static, "Callable[[Fields, Static], Fields] | None", bool, "str | None"]
"""What a message says: its kind; the fields read from it (added where the record has no
such key: `static | fields`); None or a function that returns the fields with those that
depend on the record added; whether it only holds below ERROR; and, when the only field
is `event_type`, its value (one `in` test and one store: cheaper than a merge)."""

_RULES_SEEN: dict[str, Rule | None] = {}
_SEEN_MAX = 4096
_SEEN_CHARS = 256
_UNSEEN: Any = object()


def seen_rules() -> tuple[Callable[[str, Any], Any], Any]:
    """The lookup of the rules of messages seen before, and the value it gives for a
    message not seen yet (for the JSON parser, which inlines `classify`'s usual case)."""
    return _RULES_SEEN.get, _UNSEEN


MEMBER_ACTIONS = ("join", "leave", "ban", "unban")
STATUS_TYPES = ("run_start", "run_end", "heartbeat", "reconnect", "reconnect_failed")
_EVENT_TYPES: dict[str, tuple[str, ...]] = {MEMBER: MEMBER_ACTIONS, STATUS: STATUS_TYPES,
                                            PERFORMANCE: ("slow_operation", "high_usage")}


def event_type_of(kind: str, fields: dict[str, Any], message: str) -> str | None:
    """What an event of `kind` is, in `classify`'s words (the `event_type` table of the
    module doc): the `event_type` field when it names one of that kind's (`classify` set
    it, or the record had it), else what `classify` reads in the message when it reads
    that kind there; None when neither says.

    For the readers of a decided kind (rendering): an event no parser made (a synthetic
    status, a spooled record from an older version, a route's template that forces a
    layout) is read the way the parser reads one, not by a second set of rules.

    >>> event_type_of(MEMBER, {}, "⬅️ Member Leave"), event_type_of(STATUS, {}, "Cache ok")
    ('leave', None)
    >>> event_type_of(STATUS, {"event_type": "run_end"}, "Maximum reconnect attempts")
    'run_end'
    """
    named = fields.get("event_type")
    types = _EVENT_TYPES.get(kind, ())
    if named in types:
        return named  # type: ignore[no-any-return]
    rule = rule_of(message)
    if rule is None or rule[0] != kind:
        return None
    said = rule[1].get("event_type")
    return said if said in types else None


def rule_of(message: str) -> Rule | None:
    """`rule_for(message)`, remembered for messages of up to 256 characters (4096 of them):
    a log repeats its messages, and a dict lookup costs far less than the regexes."""
    rule = _RULES_SEEN.get(message, _UNSEEN)
    if rule is _UNSEEN:
        rule = rule_for(message)
        if len(message) <= _SEEN_CHARS:
            if len(_RULES_SEEN) >= _SEEN_MAX:
                _RULES_SEEN.clear()
            _RULES_SEEN[message] = rule
    return rule  # type: ignore[no-any-return]


def rule_for(message: str) -> Rule | None:
    """What a message alone says (see `Rule`), or None when it names no kind.

    >>> rule_for("Slow operation detected: update_stats took 2450.12ms")[:2]
    ('performance', {'event_type': 'slow_operation', 'metric': 'duration', \
'operation': 'update_stats', 'value': 2450.12, 'unit': 'ms'})
    >>> rule_for("Cache refreshed") is None
    True
    """
    first = message[:1]
    pattern = _PATTERNS.get(first)
    pos = 0
    if pattern is None:
        if not first or first <= "\x7f":
            return None
        lead = _LEAD.match(message)  # a leading emoji or symbol: look past it
        if lead is None:
            return None
        pos = lead.end()
        pattern = _PATTERNS.get(message[pos:pos + 1])
        if pattern is None:
            return None
    found = pattern.match(message, pos)
    if found is None:
        return None
    return _READERS[found.lastgroup](message, found)  # type: ignore[index]


# -- error --------------------------------------------------------------------------------

def error_type(text: str) -> str | None:
    """The exception type a traceback or an error text ends with, if it names one: the
    last line's `Name: message` (or a lone `Name`), where a name is a type when Python
    would print it so, capitalised (the builtins) or dotted (`socket.timeout`). The one
    reading of exception types: rendering asks it too, for events no parser made.

    >>> error_type("Traceback ...\\ndiscord.errors.HTTPException: 503 Service Unavailable")
    'discord.errors.HTTPException'
    >>> error_type("HTTPException: 503 (error code: 0): upstream"), error_type("it broke")
    ('HTTPException', None)
    >>> error_type("socket.timeout: timed out"), error_type("error: connection refused")
    ('socket.timeout', None)
    """
    last = text.rstrip().rpartition("\n")[2].strip()
    found = _EXCEPTION_HEAD.match(last)
    if found is None:
        return None
    name = found[1]
    if not (name[:1].isupper() or "." in name):
        return None  # a bare lowercase word starts a message, it is no exception type
    return name


def error_fields(fields: dict[str, Any], exception: str | None) -> None:
    """Add `error_type`, from the exception or else an `error` text, if it names a type."""
    if "error_type" in fields:
        return
    text = exception
    if not text:
        text = fields.get("error")
        if type(text) is not str or not text:
            return
    name = error_type(text)
    if name is not None:
        fields["error_type"] = name


# -- member -------------------------------------------------------------------------------

def _read_member(message: str, found: re.Match[str]) -> Rule:
    static: Static = {"event_type": _ACTIONS.get(found["member_action"].lower(), "join")}
    name = _name_after_colon(message, found.end())
    if name:
        static["member_name"] = name  # the record's own member name wins
    return MEMBER, static, _member, False, None


def _member(fields: Fields, static: Static) -> Fields:
    """Member fields under their canonical names, then what the message said."""
    layout = tuple(fields)
    plan = _MEMBER_PLANS.get(layout)
    if plan is None:
        plan = _member_plan(layout)
    for canonical, candidates, ids in plan:
        for key, either in candidates:
            value = fields[key]
            if either and ids != _is_id(value):
                continue  # "member: alice#0" is a name, "member: 1234..." an id
            del fields[key]
            fields[canonical] = str(value) if type(value) is int else value
            break
    return static | fields


MemberPlan = tuple[tuple[str, tuple[tuple[str, bool], ...], bool], ...]
_MEMBER_PLANS: dict[tuple[str, ...], MemberPlan] = {}


def _member_plan(layout: tuple[str, ...]) -> MemberPlan:
    """For one field layout: which missing canonical member fields come from which aliases
    (best first; an alias such as "member" may hold a name or an id)."""
    present = set(layout)
    steps: list[tuple[str, tuple[tuple[str, bool], ...], bool]] = []
    for canonical, ids in (("member_id", True), ("member_name", False), ("guild_id", True),
                           ("guild_name", False)):
        if canonical in present:
            continue
        aliases = sorted((rank, key) for key, (name, _, rank) in _MEMBER_KEYS.items()
                         if name == canonical and key in present)
        if aliases:
            steps.append((canonical, tuple((key, key in _EITHER) for _, key in aliases), ids))
    plan = tuple(steps)
    if len(_MEMBER_PLANS) >= 1024:
        _MEMBER_PLANS.clear()
    _MEMBER_PLANS[layout] = plan
    return plan


def _is_id(value: object) -> bool:
    kind = type(value)
    if kind is int:
        return value >= 0  # type: ignore[operator]
    return kind is str and _DIGITS.fullmatch(value) is not None  # type: ignore[arg-type]


def _name_after_colon(message: str, pos: int) -> str | None:
    """`alice#0` in "Member joined: alice#0", cut before any "(...)" or "|"."""
    line = message[pos:].partition("\n")[0]
    head, colon, rest = line.partition(":")
    if not colon or len(head) > 20:
        return None
    name = rest.split(" (", 1)[0].split(" | ", 1)[0].strip()
    return name if 0 < len(name) <= 100 else None


# -- performance --------------------------------------------------------------------------

_VALUE_KEYS = {"duration": ("duration_ms",), "memory": ("memory_mb", "memory_percent"),
               "ram": ("ram_mb", "ram_percent"), "cpu": ("cpu_percent", "cpu"),
               "disk": ("disk_mb", "disk_percent")}
_LIMIT_KEYS = (("threshold_mb", "threshold_percent", "threshold"),  # usage
               ("threshold_ms", "slow_threshold_ms", "threshold"))  # duration


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _numeric(fields: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = fields.get(key)
        if value is not None and type(value) in (int, float) and value == value:
            return float(value)  # type: ignore[arg-type]
    return None


def _perf_rule(event_type: str, metric: str, value: float | None, unit: str | None,
               threshold: float | None, operation: str | None = None) -> Rule:
    static: Static = {"event_type": event_type, "metric": metric}
    if operation:
        static["operation"] = operation
    if value is not None:
        static["value"] = value
    if unit:
        static["unit"] = unit
    if threshold is not None:
        static["threshold"] = threshold
        if value is not None and threshold > 0:
            static["ratio"] = round(value / threshold, 3)
            return PERFORMANCE, static, None, False, None  # the message said it all
    return PERFORMANCE, static, _perf_fields, False, None


def _perf_fields(fields: Fields, static: Static) -> Fields:
    """The static fields, then value, threshold and ratio from the record's own numbers
    (`duration_ms`, `memory_mb`, `threshold_ms`...) where the message had none."""
    metric = static["metric"]
    if "value" in static:
        limits = _LIMIT_KEYS[metric == "duration"]
        if limits[0] not in fields and limits[1] not in fields and limits[2] not in fields:
            return static | fields  # the usual case: nothing more in the record to read
    fields = static | fields
    value = fields.get("value")
    if type(value) not in (int, float):
        value = _numeric(fields, _VALUE_KEYS.get(metric, ()))
        if value is None:
            return fields
        fields["value"] = value
        if metric == "duration" and "unit" not in fields:
            fields["unit"] = "ms"
    threshold = fields.get("threshold")
    if type(threshold) not in (int, float):
        threshold = _numeric(fields, _LIMIT_KEYS[metric == "duration"])
        if threshold is None:
            return fields
        fields["threshold"] = threshold
    if threshold > 0 and value == value and "ratio" not in fields:  # type: ignore[operator]
        fields["ratio"] = round(value / threshold, 3)  # type: ignore[operator]
    return fields


def _read_slow(message: str, found: re.Match[str]) -> Rule:
    value, unit = _number(found["slow_value"]), found["slow_unit"]
    if value is None:
        took = _TOOK.search(message, found.end())
        if took is not None:
            value, unit = _number(took[1]), took[2]
    operation = found["slow_op"]
    if operation is None:
        named = _OPERATION.search(message, found.end() - 1)
        operation = None if named is None else named[1]
    threshold = None
    if "hreshold" in message:
        said = _THRESHOLD.search(message, found.end())
        if said is not None:
            threshold = _number(said[1])
    return _perf_rule("slow_operation", "duration", value, unit, threshold, operation)


def _read_usage(message: str, found: re.Match[str]) -> Rule:
    metric = found["usage_metric"].lower()
    value, unit = _number(found["usage_value"]), found["usage_unit"]
    threshold = _number(found["usage_limit"])
    if value is None:
        said = _VALUE.search(message, found.end())
        if said is not None:
            value, unit = _number(said[1]), said[2]
    if threshold is None and "hreshold" in message:
        said = _THRESHOLD.search(message, found.end())
        if said is not None:
            threshold = _number(said[1])
    return _perf_rule("high_usage", metric, value, unit, threshold)


# -- status -------------------------------------------------------------------------------

def _status_reader(event_type: str, below_error: bool = False) -> Reader:
    def read(message: str, found: re.Match[str]) -> Rule:
        static: Static = {"event_type": event_type}
        if event_type in ("run_start", "run_end"):
            run = _RUN_ID.search(message)
            if run is not None:
                static["run_id"] = run[1]
                return STATUS, static, None, below_error, None
        return STATUS, static, None, below_error, event_type
    return read


Reader = Callable[[str, "re.Match[str]"], Rule]
_READERS: dict[str, Reader] = {
    "member": _read_member,
    "slow": _read_slow,
    "usage": _read_usage,
    "heartbeat": _status_reader("heartbeat", below_error=True),  # a failed one is an error
    "reconnect_failed": _status_reader("reconnect_failed"),
    "reconnect": _status_reader("reconnect", below_error=True),
    "run_start": _status_reader("run_start"),
    "run_end": _status_reader("run_end"),
}


def _compile() -> dict[str, re.Pattern[str]]:
    """One regex per first letter (either case), of the rules that can start with it."""
    patterns: dict[str, re.Pattern[str]] = {}
    for letter in sorted({c for _, _, letters in _RULES for c in letters}):
        body = "|".join(f"(?P<{name}>{regex})" for name, regex, letters in _RULES
                        if letter in letters)
        pattern = re.compile(body, re.IGNORECASE)
        patterns[letter] = patterns[letter.upper()] = pattern
    return patterns


_PATTERNS = _compile()
