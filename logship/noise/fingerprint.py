"""Error fingerprints: what makes two log records "the same error".

A storm repeats one error with different details: another user id, another timestamp,
another temp path. The fingerprint keeps what identifies the error and drops what
varies: the exception type, the message with numbers, hex, uuids, snowflakes, quoted
values and paths replaced by placeholders, and the traceback's top frame (the innermost
`File "...", line N, in func`: file name and function, not the line number).

>>> from logship.event import Level
>>> a = Event(None, Level.ERROR, "Failed to fetch user 123456789012345678 from '/tmp/a1'")
>>> b = Event(None, Level.ERROR, "Failed to fetch user 987654321098765432 from '/tmp/b2'")
>>> fingerprint(a) == fingerprint(b), len(fingerprint(a))
(True, 16)
>>> normalise("timeout after 2450.12ms on 0xdeadbeef for 'guild' in /opt/bot/x.py")
'timeout after <n>ms on <hex> for <str> in <path>'
"""

from __future__ import annotations

import hashlib
import re

from logship.event import Event

_PATTERNS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
     "<uuid>"),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\""), "<str>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.\-]+){2,}"), "<path>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
)
_FRAME = re.compile(r'File "([^"]+)", line \d+, in (\S+)')
_EXCEPTION_TYPE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|"
                             r"Timeout|Failure|Cancelled\w*)?)(?::|$)")


def normalise(text: str) -> str:
    """`text` with its varying parts replaced by placeholders."""
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def exception_type(exception: str | None) -> str:
    """The exception's type from a traceback's last line ("ValueError: x" → ValueError).

    >>> exception_type("Traceback ...\\n  File \\"a.py\\", line 1, in f\\nKeyError: 'x'")
    'KeyError'
    """
    if not exception:
        return ""
    last = exception.strip().rsplit("\n", 1)[-1].strip()
    found = _EXCEPTION_TYPE.match(last)
    return found.group(1) if found else ""


def top_frame(exception: str | None) -> str:
    """The innermost frame of a traceback as `file.py:function` ("" without one)."""
    if not exception:
        return ""
    frames = _FRAME.findall(exception)
    if not frames:
        return ""
    path, function = frames[-1]
    return f"{path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{function}"


def fingerprint(event: Event) -> str:
    """16 hex digits naming the error `event` is an instance of."""
    first_line = event.message.strip().split("\n", 1)[0]
    parts = (exception_type(event.exception), normalise(first_line[:500]),
             top_frame(event.exception), event.source, event.logger or "")
    digest = hashlib.blake2b("\x1f".join(parts).encode(errors="replace"), digest_size=8)
    return digest.hexdigest()

