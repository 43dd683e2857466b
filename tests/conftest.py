"""Shared test setup."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import aioresponses.core
from aiohttp import ClientResponse


class _ResponseWithWriter(ClientResponse):
    """aiohttp 3.14 made `stream_writer` a required argument of ClientResponse, and
    aioresponses (0.7.9) does not pass it yet (pnuckowski/aioresponses#289). Its mocked
    responses are "already sent" (writer=None), for which aiohttp only reads the writer's
    `output_size`; this subclass supplies that until aioresponses catches up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
    aioresponses.core.ClientResponse = _ResponseWithWriter  # type: ignore[misc]
