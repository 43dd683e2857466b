"""One process's link to the cluster's Redis: up or down, and back up by itself.

Every shared decision (a request's place in a budget, a dedupe window) is one Lua script,
run in one round trip, atomic across hosts (`script`). When Redis does not answer in
`TIMEOUT` seconds the link is down: callers fall back to what each host can decide alone
(budgets cut to `fallback_share`, local noise windows), logship says so once, and a timer
tries Redis again every `RECONNECT` seconds until it answers (no loop while it is up).
Nothing read is lost either way: checkpoints and the spool stay on each host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from logship.config import ClusterConfig

log = logging.getLogger("logship.cluster")

TIMEOUT = 1.0  # seconds a Redis command may take before the link counts as down
RECONNECT = 5.0  # seconds between tries while it is down
FAILURES = (OSError, TimeoutError, asyncio.TimeoutError)


class Down(Exception):
    """Redis did not answer: decide locally."""


class RedisLink:
    """The connection, its state, and the scripts run over it."""

    def __init__(self, config: ClusterConfig) -> None:
        import redis.asyncio as redis_asyncio

        self.config = config
        self.host = config.host or socket.gethostname()
        self.namespace = f"logship:{config.name}"
        self.client = redis_asyncio.from_url(
            config.redis, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
            decode_responses=True, retry_on_timeout=False)
        self.up = False
        self.down_since: float | None = time.monotonic()
        self.reason = "not connected yet"
        self.failures = 0  # times it went down (a metric)
        self.on_change: list[Callable[[bool], None]] = []
        self._retry: asyncio.TimerHandle | None = None
        self._scripts: dict[str, Any] = {}
        self._counter = 0

    def key(self, *parts: str) -> str:
        """A key in this cluster's namespace: `logship:<name>:<part>:<part>`."""
        return ":".join((self.namespace, *parts))

    def token(self) -> str:
        """A name no other request of the cluster has (this host, process, a counter)."""
        self._counter += 1
        return f"{self.host}:{id(self):x}:{self._counter}"

    async def start(self) -> bool:
        """Connect (a PING); True when Redis answers. Down: logged, retried on a timer."""
        try:
            await asyncio.wait_for(self.client.ping(), TIMEOUT * 2)
        except (*FAILURES, _redis_error()) as exc:
            self._went_down(exc)
            return False
        self._came_up()
        return True

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        with contextlib.suppress(*FAILURES, _redis_error()):
            await self.client.aclose()

    async def script(self, name: str, source: str, keys: Sequence[str],
                     args: Sequence[Any]) -> Any:
        """Run the Lua script `source` (registered once as `name`); `Down` when Redis
        does not answer (the link is then down until a retry finds it up)."""
        if not self.up:
            raise Down(self.reason)
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(source)
        try:
            return await asyncio.wait_for(script(keys=list(keys), args=list(args)),
                                          TIMEOUT * 2)
        except (*FAILURES, _redis_error()) as exc:
            if _is_answer(exc):
                raise  # Redis answered with an error: a bug of ours, not an outage
            self._went_down(exc)
            raise Down(self.reason) from None

    # -- state --------------------------------------------------------------------

    def _went_down(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self.up or self.down_since is None or self.failures == 0:
            log.error("cluster: Redis at %s does not answer (%s); each host keeps to %.0f%% "
                      "of the limits and its own noise windows until it does",
                      self.config.masked_redis, reason, self.config.fallback_share * 100)
            self.failures += 1
        self.up, self.reason = False, reason
        if self.down_since is None:
            self.down_since = time.monotonic()
        self._notify(False)
        self._schedule_retry()

    def _came_up(self) -> None:
        if not self.up and self.failures:
            log.info("cluster: Redis at %s answers again; budgets and noise windows are "
                     "shared again", self.config.masked_redis)
        elif not self.up:
            log.info("cluster: sharing budgets and noise windows on Redis at %s as host %s",
                     self.config.masked_redis, self.host)
        self.up, self.reason, self.down_since = True, "", None
        self._notify(True)

    def _notify(self, up: bool) -> None:
        for callback in self.on_change:
            callback(up)

    def _schedule_retry(self) -> None:
        if self._retry is not None:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to retry on
            loop = asyncio.get_running_loop()
            self._retry = loop.call_later(RECONNECT, self._try_again)

    def _try_again(self) -> None:
        self._retry = None
        task = asyncio.ensure_future(self.start())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


def _redis_error() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError


def _is_answer(exc: BaseException) -> bool:
    """Redis answered, with an error (a script's), rather than not at all."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisError) and not isinstance(
        exc, RedisConnectionError | RedisTimeoutError)
