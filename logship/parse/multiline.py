"""Which physical lines continue the record before them: Python tracebacks and indented lines.

A log record can span many lines: `logger.exception()` appends a traceback, chained
exceptions add "During handling of the above exception..." and more tracebacks, 3.11 adds
caret lines and exception groups, and tree loggers indent their items. `continuation`
decides, line by line, whether a line starts a new record or joins the held one (and
whether it joins its message or its exception). It is a small state machine over the
traceback's shape, shared by every text format (generic text now, tree_log next).

The rules, in order:
- a blank line is BLANK: kept only if a continuation follows it (chained tracebacks);
- an indented line joins: the exception inside a traceback, else the message;
- "Traceback (most recent call last):" and the two chaining sentences join the exception;
- inside a traceback, the first unindented line that looks like `Type: message` (and is
  no record start) is the exception line that ends it;
- anything else is NEW: the start of the next record.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Roles of a line.
BLANK = 0
NEW = 1
MESSAGE = 2
EXCEPTION = 3

# Where a record is in its traceback.
OUTSIDE = 0
IN_TRACEBACK = 1  # after a "Traceback" header, among frames
AFTER_EXCEPTION = 2  # after the final "Type: message" line
CHAINED = 3  # after "During handling..." / "The above exception..."

TRACEBACK_HEADER = "Traceback (most recent call last):"
STACK_HEADER = "Stack (most recent call last):"
CHAIN_LINES = frozenset({
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
})
_GROUP_HEADER = re.compile(r"\s+\+ Exception Group Traceback \(most recent call last\):")
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(?::|$)")

StartTest = Callable[[str], bool]


def _never(_text: str) -> bool:
    return False


def continuation(text: str, state: int, starts_record: StartTest = _never) -> tuple[int, int]:
    """The role of line `text` after a record in traceback `state`, and the new state.

    `starts_record` tells whether an unindented line is a record start of the format at
    hand (so that "ERROR:root:x" right after a cut traceback is not taken for its end).

    >>> continuation("Traceback (most recent call last):", OUTSIDE) == (EXCEPTION, IN_TRACEBACK)
    True
    >>> continuation("ValueError: bad", IN_TRACEBACK) == (EXCEPTION, AFTER_EXCEPTION)
    True
    >>> continuation("ValueError: bad", OUTSIDE) == (NEW, OUTSIDE)
    True
    """
    if not text or text.isspace():
        return BLANK, state
    first = text[0]
    if first == " " or first == "\t":
        if state != OUTSIDE:
            return EXCEPTION, state
        if _GROUP_HEADER.match(text) or text.lstrip().startswith(TRACEBACK_HEADER):
            return EXCEPTION, IN_TRACEBACK
        return MESSAGE, OUTSIDE
    if text.startswith(TRACEBACK_HEADER):
        return EXCEPTION, IN_TRACEBACK
    if text.rstrip() in CHAIN_LINES:
        return EXCEPTION, CHAINED
    if state == IN_TRACEBACK and _EXCEPTION_LINE.match(text) and not starts_record(text):
        return EXCEPTION, AFTER_EXCEPTION
    if text.startswith(STACK_HEADER):
        return MESSAGE, state
    return NEW, OUTSIDE
