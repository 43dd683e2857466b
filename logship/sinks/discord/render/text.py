"""Text as Discord takes it: valid Unicode, cut to a limit without breaking anything.

A cut keeps a message's head (at a line boundary when it can be) or a traceback's tail
(its last frames and final exception line matter most), never separates a character
from its combining marks or emoji modifiers, and never leaves a code block open: a text
that would open one has its fences defused. Text is cleaned first: a surrogate pair that
arrived as two code points is joined, a lone surrogate becomes U+FFFD; otherwise the body
could not even be encoded as UTF-8 JSON. Lengths are code points, as Discord counts.

Also how values become text: a field value (`render_value`), a time (`iso_timestamp`),
a message's first line and the rest (`split_message`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from logship.sinks.discord.render.limits import DESCRIPTION_MAX

ELLIPSIS = "…"
FENCE = "```"
CODE_OPEN = "```py\n"
CODE_CLOSE = "\n```"
ZWSP = "\u200b"  # breaks a "```" inside a code block without changing how it reads
_BACKTICKS = re.compile(r"``(?=`)")  # where a run of backticks would make a fence


def clean(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs joined, lone surrogates replaced by U+FFFD.

    >>> clean("\\ud83d\\ude00 ok \\ud800") == "😀 ok \\ufffd"
    True
    """
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _attaches(char: str) -> bool:
    """True for a code point that belongs to the character before it (combining mark,
    variation selector, emoji modifier, zero-width joiner)."""
    code = ord(char)
    return (
        unicodedata.category(char).startswith("M")
        or code == 0x200D
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (flags of regions)
    )


def _head_cut(text: str, end: int) -> int:
    """Move a cut at `end` back so it does not split a character from its marks."""
    floor = max(0, end - 16)  # a bounded search: pathological mark runs are just cut
    cut = end
    while cut > floor and (_attaches(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return end if cut == floor > 0 else cut


def _tail_cut(text: str, start: int) -> int:
    """Move a cut at `start` forward so the kept tail does not begin with a mark."""
    ceiling = min(len(text), start + 16)
    cut = start
    while cut < ceiling and (_attaches(text[cut]) or text[cut - 1] == "\u200d"):
        cut += 1
    return cut if cut < ceiling else start


def truncate(text: str, limit: int, *, keep: Literal["head", "tail"] = "head") -> str:
    """`text` in at most `limit` code points, ending (or, keeping the tail, starting)
    with "…" when it was cut.

    The text is `clean`ed first, so the result never holds a lone surrogate, and a cut
    never separates a character from its combining marks or emoji modifiers.

    >>> truncate("hello world", 8)
    'hello w…'
    >>> truncate("hello world", 8, keep="tail")
    '…o world'
    >>> truncate("👍🏽👍🏽👍🏽", 4)  # 👍🏽 is two code points: never split them
    '👍🏽…'
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    text = clean(text)
    if len(text) <= limit:
        return text
    if limit == 0:
        return ""
    if keep == "head":
        return text[: _head_cut(text, limit - 1)] + ELLIPSIS
    return ELLIPSIS + text[_tail_cut(text, len(text) - (limit - 1)) :]


def tail_lines(text: str, limit: int) -> str:
    """The end of `text` in at most `limit` code points, starting at a line boundary
    when that keeps at least half of the room ("…" on a line of its own)."""
    cut = truncate(text, limit, keep="tail")
    if cut == text or not cut:
        return cut
    newline = cut.find("\n")
    if 0 < newline <= len(cut) // 2:
        return ELLIPSIS + cut[newline:]
    return cut


def head_lines(text: str, limit: int) -> str:
    """The head of `text` in at most `limit` code points, cut at a line boundary when
    that keeps at least half of the room ("…" then stands on a line of its own).

    >>> head_lines("one\\ntwo\\nthree", 10)
    'one\\ntwo\\n…'
    >>> head_lines("a long single line", 8)
    'a long …'
    """
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = truncate(text, limit)
    newline = cut.rfind("\n", 0, len(cut) - 1)
    if newline >= len(cut) // 2:
        return cut[:newline] + "\n" + ELLIPSIS
    return cut


def fit_text(text: str, limit: int) -> str:
    """`text` in at most `limit` code points: cut at a line boundary when it can be,
    never inside a surrogate pair or a character's marks, code fences left closed.

    >>> fit_text("```py\\nx = 1\\ny = 2\\nz = 3\\n```", 20)
    '```py\\nx = 1\\n…\\n```'
    """
    cut = head_lines(text, limit)
    if cut.count(FENCE) % 2 == 0:
        return cut
    if limit < len(CODE_CLOSE):
        return ""
    cut = head_lines(text, limit - len(CODE_CLOSE))
    return cut + CODE_CLOSE if cut.count(FENCE) % 2 else cut


def normal_code(code: str) -> str:
    """`code` clean, with LF line ends, without blank lines around it."""
    code = clean(code)
    return (code.replace("\r\n", "\n") if "\r" in code else code).strip("\n")


def code_text(code: str, normal: bool = False) -> str:
    """`code` as it goes inside a code block: `normal_code` (unless `normal` says it is
    already), and fences defused."""
    return defuse_fences(code if normal else normal_code(code))


def defuse_fences(text: str) -> str:
    """`text` with every run of three backticks broken by a zero-width space, so that it
    can neither open nor close a code block (it reads the same).

    >>> defuse_fences("a ```b```") == "a ``\\u200b`b``\\u200b`"
    True
    """
    return _BACKTICKS.sub("``" + ZWSP, text) if FENCE in text else text


def py_block(code: str, limit: int) -> str:
    """`code` (made ready by `code_text`; its tail, if it must be cut) in a ```py block
    of at most `limit`."""
    room = limit - len(CODE_OPEN) - len(CODE_CLOSE)
    if room < 1:
        return ""
    return CODE_OPEN + tail_lines(code, room) + CODE_CLOSE


def code_block(code: str, limit: int = DESCRIPTION_MAX, lang: str = "py") -> str:
    """`code` in a fenced block of at most `limit` code points; when it must be cut, its
    last lines are kept (a traceback's last frames and final line matter most).

    >>> code_block("a\\nb\\nc", 12, lang="")
    '```\\n…\\nc\\n```'
    """
    opener = f"{FENCE}{lang}\n"
    room = limit - len(opener) - len(CODE_CLOSE)
    if room < 1:
        return ""
    return opener + tail_lines(code_text(code), room) + CODE_CLOSE


def split_message(message: str) -> tuple[str, str]:
    """(first line, the rest) of a message, line endings normalised, cleaned."""
    text = clean(message).replace("\r\n", "\n").replace("\r", "\n").strip()
    first, _, rest = text.partition("\n")
    return first.strip(), rest.strip("\n")


def iso_timestamp(ts: datetime | None) -> str | None:
    """`ts` as ISO 8601 in UTC (what an embed's `timestamp` takes); a naive time is
    taken as UTC (parsers attach the zone they know)."""
    if ts is None:
        return None
    try:
        aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (OverflowError, ValueError):  # a year-1 time east of UTC: no UTC equivalent
        return None
    return aware.isoformat()


def is_empty(value: Any) -> bool:
    """True for a value with nothing to show: None, blank text, an empty collection."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict | set | frozenset) and not value


def render_value(value: Any) -> str:
    """A field value as text: strings as they are, anything else as compact JSON.

    >>> render_value("ok"), render_value(3), render_value({"a": [1, None]})
    ('ok', '3', '{"a":[1,null]}')
    """
    if isinstance(value, str):
        return clean(value)
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits
        return clean(str(value))
