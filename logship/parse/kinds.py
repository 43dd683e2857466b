"""The one place that decides an event's `kind`, the coarse class routes and templates use.

Every parser calls `classify` on each event it builds, so refining kinds (performance,
member, status: issue 4) means changing this module only.
"""

from __future__ import annotations

from logship.event import Event, Level

ERROR = "error"
LOG = "log"

_ERROR_LEVEL = Level.ERROR  # a module constant: looking up an enum member costs more


def classify(event: Event) -> str:
    """The kind of a parsed event: "error" for ERROR and above or any exception, else "log".

    >>> classify(Event(ts=None, level=Level.ERROR, message="boom"))
    'error'
    >>> classify(Event(ts=None, level=Level.INFO, message="ok", exception="ValueError: x"))
    'error'
    >>> classify(Event(ts=None, level=Level.INFO, message="ok"))
    'log'
    """
    if event.level >= _ERROR_LEVEL or event.exception:
        return ERROR
    return LOG
