"""The sink types, by the name a `[sinks.NAME]` table gives in `type`.

Each is a package (or module) with a `TYPE` (`logship.sinks.base.SinkType`): its
options, its checks, how to build it. A new sink type is one package and one line here.
Names resolve to modules when first asked for, so `logship.config` can validate a
sink's options without importing every sink's machinery (nor they it, in a cycle).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logship.sinks.base import SinkType

SINK_TYPES = {
    "discord": "logship.sinks.discord",
    "file": "logship.sinks.file",
}


def names() -> tuple[str, ...]:
    """The sink types there are.

    >>> names()
    ('discord', 'file')
    """
    return tuple(SINK_TYPES)


@cache
def sink_type(name: str) -> SinkType:
    """The sink type called `name` (one of `names()`)."""
    return importlib.import_module(SINK_TYPES[name]).TYPE  # type: ignore[no-any-return]
