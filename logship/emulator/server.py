"""A local emulator of Discord's Execute Webhook, for tests, demos and dry runs.

`FakeDiscord` is an aiohttp server that answers the way discord.com answers a webhook:

- `POST /api[/v{n}]/webhooks/{id}/{token}[?wait=true][&thread_id=…]`: 200 with a message
  object when `wait=true`, 204 otherwise. JSON bodies and multipart bodies (`payload_json`
  plus `files[n]`) are accepted.
- Every body is checked against Discord's own OpenAPI schema and the rules the schema
  misses (`validate.py`: the 6000 characters across all embeds, empty messages,
  forbidden usernames, `allowed_mentions` conflicts, the documented length limits, the
  files): any problem is a 400 with code 50035, the way Discord refuses a whole message.
  `validate.payload_errors` is the same check as a function.
- Rate limits: 5 requests per 2 s per webhook (scope `user`), 30 messages per 60 s per
  channel, shared by every webhook of that channel (scope `shared`), optionally a global
  limit. Every answer carries the `X-RateLimit-*` headers; a 429 has `retry_after` and
  `Retry-After`. As on Discord, `X-RateLimit-Bucket` names the route (execute, or the
  message routes), not the webhook: every webhook reports the same hash for a route,
  while each webhook has its own count. Windows are fixed: they start at the first
  request and reset after their period, on an injectable clock.
- Webhooks: in the default "open" mode any snowflake id and token is accepted and each
  webhook is its own channel. `add_webhook` declares one (its token is then checked,
  401/50027); `strict=True` refuses undeclared ones (404/10015); `delete_webhook` makes
  one unknown from then on.
- Mentions: a message that would notify someone (`@everyone`, `@here`, `<@id>`, `<@&id>`
  that its `allowed_mentions` lets Discord parse) is counted in `stats.pings`. Mentions
  in embeds are counted too, although Discord never pings from an embed: stricter is safer.
- Faults: `fail_rate` (random 500/502/503), `latency`, and `script(...)` for the exact
  next answers (a status, a body, headers, or a dropped connection).
- Webhook message routes (GET/PATCH/DELETE `…/messages/{message_id}`) and GET/DELETE of
  the webhook itself, over the messages recorded here.
- Control endpoints for out-of-process use: GET `/_fake/messages`, GET `/_fake/stats`,
  POST `/_fake/reset`, POST `/_fake/config`, POST `/_fake/script`, POST `/_fake/webhooks`.

- Files: a multipart body's files are kept with the message (`Received.attachments`:
  each name and content, so a test can read what an attachment carried); their count
  and sizes are checked, their contents are not.

What it does not emulate: authentication other than the webhook token, guilds, channels
or threads as objects (a `thread_id` is taken as given), components and polls beyond
the schema, Cloudflare's ban after too many invalid requests (they are only counted),
per-route bucket sharing beyond the three limits above, and message rendering. It only
ever listens on a loopback address.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import random
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aiohttp import BodyPartReader, web

from logship.emulator.validate import (
    JSON,
    Problem,
    file_problems,
    nested_errors,
    objects_in,
    payload_problems,
    pinging_mentions,
    shorten,
)
from logship.sinks.discord.url import is_loopback_host

LOG = logging.getLogger("logship.emulator.server")

Clock = Callable[[], float]

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_WEBHOOK_ID = "123456789012345678"
DEFAULT_NAME = "Captain Hook"  # what Discord calls a webhook nobody named

_SNOWFLAKE = re.compile(r"^(0|[1-9][0-9]{0,19})$")
_TRUE = frozenset({"true", "1"})


# ---------------------------------------------------------------------------- the model


@dataclass
class Received:
    """One message the emulator accepted."""

    webhook_id: str
    channel: str
    payload: JSON
    message_id: str
    at: float  # the emulator's clock (time.monotonic unless injected)
    thread_id: str | None = None
    pings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # file names of a multipart body
    # each file's name and content, so a test can read what an attachment carried
    attachments: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    def as_json(self) -> JSON:
        data = dataclasses.asdict(self)
        data["attachments"] = [{"filename": name, "text": content.decode(errors="replace")}
                               for name, content in self.attachments]
        return data | {"pings": list(self.pings), "files": list(self.files)}

    def attachment_text(self) -> str:
        """Every attached file's content as text, one after the other."""
        return "\n".join(content.decode(errors="replace") for _, content in self.attachments)


@dataclass
class Stats:
    """What the emulator saw since it started (or was reset)."""

    requests: int = 0  # webhook API requests, control endpoints excluded
    accepted: int = 0  # messages recorded
    by_status: dict[int, int] = field(default_factory=dict)
    rate_limited: int = 0  # 429 answers of any scope
    invalid_requests: int = 0  # 401, 403, 404 and 429 other than scope "shared" (Discord's rule)
    pings: int = 0  # accepted messages that would notify someone
    dropped: int = 0  # connections closed without an answer (script "drop")

    def as_json(self) -> JSON:
        return dataclasses.asdict(self) | {"by_status": {str(k): v
                                                         for k, v in self.by_status.items()}}


@dataclass
class Webhook:
    webhook_id: str
    token: str | None  # None: created on first use in open mode, any token works
    channel: str
    name: str = DEFAULT_NAME

    def as_json(self, token: str | None = None) -> JSON:
        return {"id": self.webhook_id, "type": 1, "name": self.name, "avatar": None,
                "channel_id": self.channel, "guild_id": None, "application_id": None,
                "token": self.token or token}


@dataclass(frozen=True)
class Answer:
    """A scripted answer. `body=None` means Discord's usual body for the status;
    a `str` body is sent as text/html (a proxy's error page). A 2xx status means
    "answer this request normally"."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


DROP = Answer(0, drop=True)
ScriptItem = int | str | tuple[Any, ...] | Mapping[str, Any] | Answer


def to_answer(item: ScriptItem) -> Answer:
    """An `Answer` from a status, "drop", (status, body[, headers]) or a mapping."""
    if isinstance(item, Answer):
        return item
    if isinstance(item, bool):
        raise ValueError(f"not a scripted answer: {item!r}")
    if isinstance(item, int):
        return Answer(item)
    if item == "drop":
        return DROP
    if isinstance(item, tuple) and 1 <= len(item) <= 3 and isinstance(item[0], int):
        return Answer(*item)
    if isinstance(item, Mapping):
        if item.get("drop"):
            return DROP
        if isinstance(item.get("status"), int):
            return Answer(item["status"], item.get("body"), dict(item.get("headers") or {}))
    raise ValueError(f"not a scripted answer: {item!r}")


@dataclass(frozen=True)
class ApiError:
    status: int
    code: int
    message: str

    def body(self) -> JSON:
        return {"message": self.message, "code": self.code}


UNKNOWN_WEBHOOK = ApiError(404, 10015, "Unknown Webhook")
INVALID_TOKEN = ApiError(401, 50027, "Invalid Webhook Token")
UNKNOWN_MESSAGE = ApiError(404, 10008, "Unknown Message")
TOO_LARGE = ApiError(413, 40005, "Request entity too large")


@dataclass
class Window:
    """A fixed window: `limit` hits, counted from the first one, reset after `period`."""

    limit: int
    period: float
    started: float | None = None
    count: int = 0

    def _active(self, now: float) -> bool:
        return self.started is not None and now < self.started + self.period

    def take(self, now: float) -> float:
        """Count one hit: 0.0 when it fits, else the seconds until it would."""
        if not self._active(now):
            self.started, self.count = now, 0
        if self.count >= self.limit:
            return self.reset_after(now)
        self.count += 1
        return 0.0

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self.count) if self._active(now) else self.limit

    def reset_after(self, now: float) -> float:
        if self.started is None or not self._active(now):
            return self.period
        return self.started + self.period - now


@dataclass
class Limits:
    """The emulator's rate limits; `None` turns one off."""

    webhook_limit: int | None = 5
    webhook_window: float = 2.0
    channel_limit: int | None = 30
    channel_window: float = 60.0
    global_limit: int | None = None  # requests per second across everything


@dataclass(frozen=True)
class Reply:
    """An answer on its way out: status, JSON (or text) body, extra headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _rate_limited(retry_after: float, *, scope: str, is_global: bool = False) -> Reply:
    retry_after = round(retry_after, 3)
    headers = {"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Scope": scope}
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after,
            "global": is_global}
    return Reply(429, body, headers)


def _error_reply(error: ApiError) -> Reply:
    return Reply(error.status, error.body())


def _invalid_body(problems: Sequence[Problem]) -> Reply:
    return Reply(400, {"message": "Invalid Form Body", "code": 50035,
                       "errors": nested_errors(problems)})


def _server_error(status: int) -> Reply:
    return Reply(status, {"message": f"{status}: {_phrase(status)}", "code": 0})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _scripted_reply(answer: Answer) -> Reply:
    if answer.status == 429:
        body = answer.body if answer.body is not None else {
            "message": "You are being rate limited.", "retry_after": 1.0, "global": False}
        retry = body.get("retry_after", 1.0) if isinstance(body, dict) else 1.0
        headers = {"Retry-After": str(max(1, math.ceil(float(retry)))),
                   "X-RateLimit-Scope": "user", "X-RateLimit-Remaining": "0"}
        return Reply(429, body, headers | dict(answer.headers))
    if answer.body is not None:
        return Reply(answer.status, answer.body, answer.headers)
    defaults = {400: Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": {}}),
                401: _error_reply(INVALID_TOKEN), 404: _error_reply(UNKNOWN_WEBHOOK),
                403: Reply(403, {"message": "Missing Permissions", "code": 50013})}
    reply = defaults.get(answer.status) or _server_error(answer.status)
    return dataclasses.replace(reply, headers=answer.headers)


# ----------------------------------------------------------------------------- requests


@dataclass
class Body:
    """What a request carried: the parsed payload, its files, and problems reading it."""

    payload: object = None
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, content)
    problems: list[Problem] = field(default_factory=list)
    too_large: bool = False


def _parse_json(raw: bytes) -> tuple[object, list[Problem]]:
    if not raw.strip():
        return None, [Problem((), "BODY_EMPTY", "the body is empty: send a JSON object")]
    try:
        return json.loads(raw, parse_constant=_refuse_constant), []
    except ValueError as exc:
        return None, [Problem((), "JSON_INVALID", f"the body is not valid JSON: {exc}")]


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


async def read_body(request: web.Request) -> Body:
    """The request's body, JSON or multipart; never raises for a bad body."""
    try:
        if request.content_type.startswith("multipart/"):
            return await _read_multipart(request)
        payload, problems = _parse_json(await request.read())
        return Body(payload, problems=problems)
    except web.HTTPRequestEntityTooLarge:
        return Body(too_large=True)


async def _read_multipart(request: web.Request) -> Body:
    body = Body(payload={})
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            body.problems.append(Problem((), "MULTIPART_INVALID", "nested multipart body"))
        elif part.name == "payload_json":
            body.payload, problems = _parse_json(await part.read())
            body.problems += problems
        elif part.filename is not None:
            body.files.append((part.filename, await _part_data(part)))
    body.problems += file_problems(body.files)
    return body


async def _part_data(part: BodyPartReader) -> bytes:
    chunks = []
    while chunk := await part.read_chunk():
        chunks.append(chunk)
    return b"".join(chunks)


def _snowflake_time(snowflake: str) -> str:
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _rich(embeds: object) -> list[JSON]:
    return [{"type": "rich", **embed} for embed in objects_in(embeds)]


def message_object(received: Received, webhook: Webhook) -> JSON:
    """What Discord answers for a message: `?wait=true`, GET and PATCH."""
    payload = received.payload
    return {
        "id": received.message_id, "type": 0,
        "channel_id": received.thread_id or received.channel,
        "content": payload.get("content") or "",
        "embeds": _rich(payload.get("embeds")),
        "author": {"id": received.webhook_id, "username": payload.get("username") or webhook.name,
                   "avatar": None, "discriminator": "0000", "bot": True},
        "attachments": [_attachment_object(received, n, name, data)
                        for n, (name, data) in enumerate(received.attachments)],
        "components": [], "mentions": [], "mention_roles": [],
        "mention_everyone": any(m in ("@everyone", "@here") for m in received.pings),
        "pinned": False, "tts": bool(payload.get("tts")), "flags": payload.get("flags") or 0,
        "timestamp": _snowflake_time(received.message_id), "edited_timestamp": None,
        "webhook_id": received.webhook_id,
    }


def _attachment_object(received: Received, index: int, name: str, data: bytes) -> JSON:
    """An attachment as Discord describes it in a message object."""
    url = f"https://cdn.discordapp.com/attachments/{received.channel}/{received.message_id}/{name}"
    return {"id": str(int(received.message_id) + index + 1), "filename": name,
            "size": len(data), "url": url, "proxy_url": url}


def _wants_wait(request: web.Request) -> bool:
    return request.query.get("wait", "").lower() in _TRUE


# ------------------------------------------------------------------------------ server


API = r"/api{version:(/v\d+)?}/webhooks/{webhook_id}/{token}"


class FakeDiscord:
    """Discord's webhook API on a loopback port. Use `async with`, or `start()`/`stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        strict: bool = False,
        fail_rate: float = 0.0,
        latency: float = 0.0,
        webhook_limit: int | None = 5,
        webhook_window: float = 2.0,
        channel_limit: int | None = 30,
        channel_window: float = 60.0,
        global_limit: int | None = None,
        clock: Clock = time.monotonic,
        on_message: Callable[[Received], object] | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.strict = strict
        self.fail_rate = fail_rate
        self.latency = latency
        self.limits = Limits(webhook_limit, webhook_window, channel_limit, channel_window,
                             global_limit)
        self.on_message = on_message
        self.messages: list[Received] = []
        self.stats = Stats()
        self._clock = clock
        self._random = random.Random(seed)
        self._webhooks: dict[str, Webhook] = {}
        self._deleted: set[str] = set()
        self._windows: dict[tuple[str, str], Window] = {}
        self._script: list[Answer] = []
        self._last_snowflake = 0
        self._runner: web.AppRunner | None = None

    # -- lifecycle

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on `host:port` (port 0 picks a free one, then `self.port` tells it)."""
        if not is_loopback_host(self.host):
            raise ValueError(f"the Discord emulator only listens on a loopback address "
                             f"(127.0.0.0/8, ::1, localhost), not {self.host!r}")
        # A stop waits at most a second for answers still held (`latency`), not a minute.
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        LOG.debug("listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def webhook_url(self, webhook_id: str = DEFAULT_WEBHOOK_ID, token: str = "token") -> str:
        return f"{self.base_url}/api/webhooks/{webhook_id}/{token}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API, self._execute)
        app.router.add_get(API, self._get_webhook)
        app.router.add_delete(API, self._delete_webhook)
        message = API + "/messages/{message_id}"
        app.router.add_get(message, self._get_message)
        app.router.add_patch(message, self._edit_message)
        app.router.add_delete(message, self._delete_message)
        app.router.add_get("/_fake/messages", self._control_messages)
        app.router.add_get("/_fake/stats", self._control_stats)
        app.router.add_post("/_fake/reset", self._control_reset)
        app.router.add_post("/_fake/config", self._control_config)
        app.router.add_post("/_fake/script", self._control_script)
        app.router.add_post("/_fake/webhooks", self._control_add_webhook)
        return app

    # -- the API for tests

    def add_webhook(self, webhook_id: str | int, token: str, channel: str | int | None = None,
                    name: str = DEFAULT_NAME) -> Webhook:
        """Declare a webhook; its token is checked from now on. Channel: its own id."""
        key = str(webhook_id)
        hook = Webhook(key, token, str(channel) if channel is not None else key, name)
        self._webhooks[key] = hook
        self._deleted.discard(key)
        return hook

    def delete_webhook(self, webhook_id: str | int) -> None:
        """The webhook is gone: every later request to it is 404/10015."""
        self._webhooks.pop(str(webhook_id), None)
        self._deleted.add(str(webhook_id))

    def script(self, *answers: ScriptItem) -> None:
        """Queue the next answers to Execute Webhook, used in order before normal ones:
        a status (500, 429, 404…), "drop", (status, body[, headers]), a mapping
        {"status", "body", "headers"} or an `Answer`."""
        self._script += [to_answer(answer) for answer in answers]

    def reset(self) -> None:
        """Forget messages, stats, rate-limit windows, the script, deleted and implicit
        webhooks; keep declared webhooks and the configuration."""
        self.messages.clear()
        self.stats = Stats()
        self._windows.clear()
        self._script.clear()
        self._deleted.clear()
        self._webhooks = {k: v for k, v in self._webhooks.items() if v.token is not None}

    def configure(self, **options: Any) -> None:
        """Change fail_rate, latency, strict or any `Limits` field; limits restart."""
        limit_names = {f.name for f in dataclasses.fields(Limits)}
        unknown = set(options) - limit_names - {"fail_rate", "latency", "strict"}
        if unknown:
            raise ValueError(f"unknown options: {', '.join(sorted(unknown))}")
        for name, value in options.items():
            _check_option(name, value)
            setattr(self.limits if name in limit_names else self, name, value)
        self._windows.clear()

    def messages_for(self, webhook_id: str | int) -> list[Received]:
        return [m for m in self.messages if m.webhook_id == str(webhook_id)]

    def embeds(self, webhook_id: str | int | None = None) -> list[JSON]:
        """Every embed received, in order (only `webhook_id`'s when given)."""
        chosen = self.messages if webhook_id is None else self.messages_for(webhook_id)
        return [embed for m in chosen for embed in objects_in(m.payload.get("embeds"))]

    # -- answering

    def _respond(self, reply: Reply, rate_headers: Mapping[str, str] | None = None
                 ) -> web.Response:
        self._count(reply)
        headers = {**(rate_headers or {}), **reply.headers}
        if isinstance(reply.body, str):
            return web.Response(status=reply.status, text=reply.body, headers=headers,
                                content_type="text/html")
        if reply.body is None:
            return web.Response(status=reply.status, headers=headers)
        return web.json_response(reply.body, status=reply.status, headers=headers)

    def _count(self, reply: Reply) -> None:
        stats = self.stats
        stats.by_status[reply.status] = stats.by_status.get(reply.status, 0) + 1
        if reply.status == 429:
            stats.rate_limited += 1
        shared = reply.headers.get("X-RateLimit-Scope") == "shared"
        if reply.status in (401, 403, 404) or (reply.status == 429 and not shared):
            stats.invalid_requests += 1

    def _window(self, kind: str, key: str) -> Window | None:
        limits = self.limits
        limit, period = {
            "webhook": (limits.webhook_limit, limits.webhook_window),
            "channel": (limits.channel_limit, limits.channel_window),
            "global": (limits.global_limit, 1.0),
        }[kind]
        if limit is None:
            return None
        return self._windows.setdefault((kind, key), Window(limit, period))

    def _rate_headers(self, route: str, webhook_id: str) -> dict[str, str]:
        """The X-RateLimit-* headers of a webhook's bucket for `route`, as they stand."""
        window, now = self._window("webhook", f"{route}:{webhook_id}"), self._clock()
        limit = window.limit if window else 1_000_000
        remaining = window.remaining(now) if window else limit
        reset_after = window.reset_after(now) if window else 0.0
        # Discord's bucket hash names the route "non-inclusive of top-level resources":
        # every webhook reports the same one, and the limit still applies per webhook.
        bucket = hashlib.sha1(route.encode()).hexdigest()[:32]
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}", "X-RateLimit-Bucket": bucket}

    def _take_limits(self, route: str, webhook_id: str) -> Reply | None:
        """Count one request against the global and the webhook's limits; a 429 past them."""
        now = self._clock()
        global_window = self._window("global", "")
        if global_window is not None and (wait := global_window.take(now)):
            return _rate_limited(wait, scope="global", is_global=True)
        window = self._window("webhook", f"{route}:{webhook_id}")
        if window is not None and (wait := window.take(now)):
            return _rate_limited(wait, scope="user")
        return None

    def _lookup(self, webhook_id: str, token: str) -> Webhook | ApiError:
        if not _SNOWFLAKE.match(webhook_id) or webhook_id in self._deleted:
            return UNKNOWN_WEBHOOK
        hook = self._webhooks.get(webhook_id)
        if hook is None and not self.strict:
            hook = self._webhooks[webhook_id] = Webhook(webhook_id, None, webhook_id)
        if hook is None or (self.strict and hook.token is None):
            return UNKNOWN_WEBHOOK
        if hook.token is not None and token != hook.token:
            return INVALID_TOKEN
        return hook

    async def _begin(self) -> None:
        self.stats.requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    def _fault(self) -> Reply | None:
        if self.fail_rate > 0 and self._random.random() < self.fail_rate:
            return _server_error(self._random.choice((500, 502, 503)))
        return None

    # -- Execute Webhook

    async def _execute(self, request: web.Request) -> web.StreamResponse:
        await self._begin()
        body = await read_body(request)
        webhook_id = request.match_info["webhook_id"]
        if self._script:
            answer = self._script.pop(0)
            if answer.drop:
                return self._drop(request)
            if not 200 <= answer.status < 300:
                return self._respond(_scripted_reply(answer),
                                     self._rate_headers("execute", webhook_id))
        reply = self._fault() or self._take_limits("execute", webhook_id)
        headers = self._rate_headers("execute", webhook_id)
        if reply is None:
            reply = self._accept(request, webhook_id, body)
        return self._respond(reply, headers)

    def _drop(self, request: web.Request) -> web.StreamResponse:
        self.stats.dropped += 1
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing may be written to an aborted connection

    def _accept(self, request: web.Request, webhook_id: str, body: Body) -> Reply:
        hook = self._lookup(webhook_id, request.match_info["token"])
        if isinstance(hook, ApiError):
            return _error_reply(hook)
        if body.too_large:
            return _error_reply(TOO_LARGE)
        problems = body.problems or payload_problems(body.payload, files=len(body.files))
        thread_id = request.query.get("thread_id")
        if thread_id is not None and not _SNOWFLAKE.match(thread_id):
            problems.append(Problem(("thread_id",), "NUMBER_TYPE_COERCE",
                                    f"Value {shorten(thread_id, 40)!r} is not snowflake."))
        if problems:
            LOG.info("refused a message for webhook %s: %s", webhook_id,
                     "; ".join(map(str, problems)))
            return _invalid_body(problems)
        assert isinstance(body.payload, dict)
        channel_window = self._window("channel", hook.channel)
        if channel_window is not None and (wait := channel_window.take(self._clock())):
            return _rate_limited(wait, scope="shared")
        received = self._record(hook, body, thread_id)
        return Reply(200, message_object(received, hook)) if _wants_wait(request) else Reply(204)

    def _record(self, hook: Webhook, body: Body, thread_id: str | None) -> Received:
        assert isinstance(body.payload, dict)
        received = Received(
            webhook_id=hook.webhook_id, channel=hook.channel, payload=body.payload,
            message_id=self._next_snowflake(), at=self._clock(), thread_id=thread_id,
            pings=tuple(pinging_mentions(body.payload)), files=tuple(n for n, _ in body.files),
            attachments=tuple(body.files))
        self.messages.append(received)
        self.stats.accepted += 1
        if received.pings:
            self.stats.pings += 1
            LOG.warning("message %s would ping %s", received.message_id,
                        ", ".join(received.pings))
        self._notify(received)
        return received

    def _notify(self, received: Received) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(received)
        except Exception:  # a broken callback must not turn into a Discord answer
            LOG.exception("on_message callback failed")

    def _next_snowflake(self) -> str:
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(stamp, self._last_snowflake + 1)
        return str(self._last_snowflake)

    # -- the webhook and its messages

    async def _other_route(self, request: web.Request, route: str
                           ) -> tuple[Webhook | Reply, dict[str, str]]:
        """Common steps of the non-execute routes: count, limit, look the webhook up."""
        await self._begin()
        webhook_id = request.match_info["webhook_id"]
        reply = self._take_limits(route, webhook_id)
        headers = self._rate_headers(route, webhook_id)
        if reply is not None:
            return reply, headers
        hook = self._lookup(webhook_id, request.match_info["token"])
        return (_error_reply(hook) if isinstance(hook, ApiError) else hook), headers

    async def _get_webhook(self, request: web.Request) -> web.Response:
        hook, headers = await self._other_route(request, "webhook")
        if isinstance(hook, Webhook):
            hook = Reply(200, hook.as_json(request.match_info["token"]))
        return self._respond(hook, headers)

    async def _delete_webhook(self, request: web.Request) -> web.Response:
        hook, headers = await self._other_route(request, "webhook")
        if isinstance(hook, Webhook):
            self.delete_webhook(hook.webhook_id)
            hook = Reply(204)
        return self._respond(hook, headers)

    def _find(self, hook: Webhook, message_id: str) -> int | None:
        for index, received in enumerate(self.messages):
            if received.message_id == message_id and received.webhook_id == hook.webhook_id:
                return index
        return None

    async def _message_route(self, request: web.Request
                             ) -> tuple[Webhook, int] | Reply:
        hook, headers = await self._other_route(request, "message")
        if isinstance(hook, Reply):
            return dataclasses.replace(hook, headers={**headers, **hook.headers})
        index = self._find(hook, request.match_info["message_id"])
        # A message in a thread is found only with its thread's id, as on Discord.
        if index is None or self.messages[index].thread_id != request.query.get("thread_id"):
            return Reply(404, UNKNOWN_MESSAGE.body(), headers)
        return hook, index

    async def _get_message(self, request: web.Request) -> web.Response:
        found = await self._message_route(request)
        if isinstance(found, Reply):
            return self._respond(found)
        hook, index = found
        return self._respond(Reply(200, message_object(self.messages[index], hook)),
                             self._rate_headers("message", hook.webhook_id))

    async def _edit_message(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        found = await self._message_route(request)
        if isinstance(found, Reply):
            return self._respond(found)
        hook, index = found
        headers = self._rate_headers("message", hook.webhook_id)
        if body.problems or not isinstance(body.payload, dict):
            return self._respond(_invalid_body(body.problems or payload_problems(body.payload)),
                                 headers)
        edited = self.messages[index].payload | body.payload
        problems = payload_problems(edited)
        if problems:
            return self._respond(_invalid_body(problems), headers)
        received = dataclasses.replace(self.messages[index], payload=edited,
                                       pings=tuple(pinging_mentions(edited)))
        self.messages[index] = received
        return self._respond(Reply(200, message_object(received, hook)), headers)

    async def _delete_message(self, request: web.Request) -> web.Response:
        found = await self._message_route(request)
        if isinstance(found, Reply):
            return self._respond(found)
        hook, index = found
        del self.messages[index]
        return self._respond(Reply(204), self._rate_headers("message", hook.webhook_id))

    # -- control endpoints

    async def _control_messages(self, request: web.Request) -> web.Response:
        return web.json_response([m.as_json() for m in self.messages])

    async def _control_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_json())

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _control_config(self, request: web.Request) -> web.Response:
        options, problems = _parse_json(await request.read())
        if problems or not isinstance(options, dict):
            return _control_error("send a JSON object of options")
        try:
            self.configure(**options)
        except ValueError as exc:
            return _control_error(str(exc))
        return web.json_response({"ok": True, "limits": dataclasses.asdict(self.limits),
                                  "fail_rate": self.fail_rate, "latency": self.latency,
                                  "strict": self.strict})

    async def _control_script(self, request: web.Request) -> web.Response:
        answers, problems = _parse_json(await request.read())
        if problems or not isinstance(answers, list):
            return _control_error("send a JSON list of answers")
        try:
            self.script(*(tuple(a) if isinstance(a, list) else a for a in answers))
        except (TypeError, ValueError) as exc:
            return _control_error(str(exc))
        return web.json_response({"ok": True, "queued": len(self._script)})

    async def _control_add_webhook(self, request: web.Request) -> web.Response:
        spec, problems = _parse_json(await request.read())
        if problems or not isinstance(spec, dict) or not {"id", "token"} <= spec.keys():
            return _control_error('send {"id": …, "token": …, "channel": …}')
        hook = self.add_webhook(spec["id"], str(spec["token"]), spec.get("channel"),
                                spec.get("name", DEFAULT_NAME))
        return web.json_response(hook.as_json())


def _check_option(name: str, value: object) -> None:
    """Refuse a `configure` value of the wrong type or range (ValueError)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if name == "strict":
        valid = isinstance(value, bool)
    elif name == "fail_rate":
        valid = number and 0.0 <= value <= 1.0  # type: ignore[operator]
    elif name == "latency":
        valid = number and value >= 0  # type: ignore[operator]
    elif name.endswith("_window"):
        valid = number and value > 0  # type: ignore[operator]
    else:  # a limit: a positive count, or None for no limit
        valid = value is None or (isinstance(value, int) and not isinstance(value, bool)
                                  and value > 0)
    if not valid:
        raise ValueError(f"invalid value for {name}: {value!r}")


def _control_error(message: str) -> web.Response:
    return web.json_response({"message": message}, status=400)


# --------------------------------------------------------------------------------- CLI


def describe(received: Received) -> str:
    """One terminal line for an accepted message: its first embed's title (or content)."""
    embeds = list(objects_in(received.payload.get("embeds")))
    head = embeds[0].get("title") or embeds[0].get("description") if embeds else None
    first = str(head or received.payload.get("content") or "")[:100].replace("\n", " ")
    more = f" (+{len(embeds) - 1} more embeds)" if len(embeds) > 1 else ""
    pings = f"  PINGS {', '.join(received.pings)}" if received.pings else ""
    stamp = datetime.now().strftime("%H:%M:%S")
    return f"{stamp} webhook {received.webhook_id} #{received.channel}: {first}{more}{pings}"


def serve(host: str, port: int, *, quiet: bool = False, fail_rate: float = 0.0) -> int:
    """`logship fake-discord`: run the emulator until Ctrl-C; the exit status."""
    if not is_loopback_host(host):
        print(f"error: the Discord emulator only listens on a loopback address "
              f"(127.0.0.0/8, ::1, localhost), not {host!r}", file=sys.stderr)
        return 2
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="fake Discord: %(message)s")
    fake = FakeDiscord(host, port, fail_rate=fail_rate,
                       on_message=None if quiet else lambda r: print(describe(r), flush=True))
    try:
        return asyncio.run(_serve(fake))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        return 0
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1


async def _serve(fake: FakeDiscord) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt instead
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with fake:
            print(f"fake Discord listening on {fake.base_url} — webhook URL: "
                  f"{fake.base_url}/api/webhooks/<any id>/<any token>", flush=True)
            await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    return 0
