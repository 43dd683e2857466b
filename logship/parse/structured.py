"""StructuredLogger's text suffixes: ` (k=v k=v)`, ` [operation=X, duration=N.NNms]`,
` [error=Type: msg]`, parsed into the same fields its JSON variant gives.

The newer StatsBot writes `[ts] [LEVEL] [service] message` then, each only when set, the
context as `(k=v ...)`, the timed operation and the error. The suffixes are taken off the
message from the end, so that the message reads as in the JSON file ("Heartbeat updated
successfully"), and their values become fields: context values as numbers when they are
plain numbers (never a snowflake: 17 digits and more stay text), `duration_ms` a float.
"""

from __future__ import annotations

import re
from typing import Any

from logship.parse.common import SNOWFLAKE_MIN

_OPERATION = re.compile(r" \[operation=(?P<operation>[^,\]]*), duration=(?P<duration>"
                        r"-?\d+(?:\.\d+)?)ms\]$")
_CONTEXT_KEY = re.compile(r"[A-Za-z_][\w.]{0,63}=")
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z_][\w.]{0,63})=")
_INT = re.compile(r"-?\d{1,16}")
_FLOAT = re.compile(r"-?\d+\.\d+")
ERROR_MARK = " [error="


def number_or_text(text: str) -> Any:
    """A context value: an int or float when it is a plain number, else the text.

    >>> number_or_text("12"), number_or_text("0.5"), number_or_text("123456789012345678")
    (12, 0.5, '123456789012345678')
    >>> number_or_text("0.3%")
    '0.3%'
    """
    if _INT.fullmatch(text):
        number = int(text)
        return number if abs(number) < SNOWFLAKE_MIN else text
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_pairs(text: str) -> dict[str, Any]:
    """`k=v k=v` pairs; a value runs to the next ` key=` (it may hold spaces).

    >>> parse_pairs("cpu=0.3% threads=12 next_update=in 60 minutes")
    {'cpu': '0.3%', 'threads': 12, 'next_update': 'in 60 minutes'}
    """
    keys = list(_KEY.finditer(text))
    pairs: dict[str, Any] = {}
    for index, found in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        pairs[found[1]] = number_or_text(text[found.end():end].strip())
    return pairs


def split_suffixes(message: str) -> tuple[str, dict[str, Any]]:
    """The message without its StructuredLogger suffixes, and their fields.

    >>> split_suffixes("Failed to update heartbeat [error=HTTPException: 503 (code: 0)]")
    ('Failed to update heartbeat', {'error': 'HTTPException: 503 (code: 0)'})
    >>> split_suffixes("Stats saved (guilds=3) [operation=save, duration=12.50ms]")
    ('Stats saved', {'operation': 'save', 'duration_ms': 12.5, 'guilds': 3})
    >>> split_suffixes("No suffix (really)")
    ('No suffix (really)', {})
    """
    fields: dict[str, Any] = {}
    if message.endswith("]"):
        mark = message.rfind(ERROR_MARK)
        if mark >= 0:
            fields["error"] = message[mark + len(ERROR_MARK):-1]
            message = message[:mark]
        found = _OPERATION.search(message)
        if found is not None:
            fields["operation"] = found["operation"]
            fields["duration_ms"] = float(found["duration"])
            message = message[:found.start()]
    if message.endswith(")"):
        opening = _context_start(message)
        if opening >= 0:
            for key, value in parse_pairs(message[opening + 1:-1]).items():
                fields[f"context.{key}" if key in fields else key] = value
            message = message[:opening].rstrip(" ")
    return message, fields


def _context_start(message: str) -> int:
    """Where the first "(" that opens `key=` pairs is (-1: none). Linear in the message."""
    pos = message.find("(")
    while pos >= 0:
        if _CONTEXT_KEY.match(message, pos + 1):
            return pos
        pos = message.find("(", pos + 1)
    return -1
