"""One HTTP call to a webhook, and what its answer means for delivery.

`WebhookClient.execute` never raises for HTTP or network trouble: it returns a
`Response` whose `outcome` tells the worker what to do (done, wait, retry, split,
give up). Error texts are scrubbed of the webhook token before anyone can log them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import aiohttp
import orjson

from logship.redact.scrub import scrub_tokens
from logship.sinks.discord.render import Attachment
from logship.sinks.discord.url import WebhookURL

RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
    "X-RateLimit-Scope",
    "Retry-After",
)
# Codes Discord uses for a webhook that no longer exists or a token that no longer works.
GONE_CODES = {10015: "unknown webhook", 50027: "invalid webhook token"}


class Outcome(Enum):
    DELIVERED = "delivered"  # 200 with a message object: the only proof of delivery
    RATE_LIMITED = "rate_limited"  # 429: wait retry_after, send the same again
    RETRY = "retry"  # 5xx, timeout, connection error: back off and retry
    REJECTED = "rejected"  # 400 (50035 and friends): never resend the same bytes
    GONE = "gone"  # 401/403/404: the webhook is deleted or its token revoked


@dataclass
class Response:
    status: int  # 0 when no HTTP answer came
    latency: float
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    error: str | None = None
    timed_out: bool = False  # no answer in time: Discord may still have posted it

    @property
    def outcome(self) -> Outcome:
        status = self.status
        if status == 200 and isinstance(self.body, dict) and "id" in self.body:
            return Outcome.DELIVERED
        if status == 429:
            return Outcome.RATE_LIMITED
        if status in (401, 403, 404):
            return Outcome.GONE
        if status == 408:  # a REST proxy's timeout (nirn-proxy): try again
            return Outcome.RETRY
        if 400 <= status < 500:
            return Outcome.REJECTED
        return Outcome.RETRY

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def retry_after(self) -> float:
        """Seconds a 429 asks to wait; a 429 without a usable value still waits 1 s."""
        value: Any = self.body.get("retry_after") if isinstance(self.body, dict) else None
        if value is None:
            value = self.headers.get("Retry-After")
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            return 1.0

    @property
    def is_global(self) -> bool:
        return bool(isinstance(self.body, dict) and self.body.get("global"))

    def describe(self) -> str:
        """A short human reason, e.g. 'webhook deleted (404, code 10015)'."""
        if self.status == 0:
            return self.error or "no response"
        code = self.code
        if self.outcome is Outcome.GONE:
            what = "webhook deleted" if code == 10015 or self.status == 404 else "webhook refused"
            detail = GONE_CODES.get(code or 0)
            suffix = f", code {code}" if code else ""
            return f"{what} ({self.status}{suffix})" + (f": {detail}" if detail else "")
        message = self.body.get("message") if isinstance(self.body, dict) else None
        parts = [str(self.status)] + ([f"code {code}"] if code else [])
        text = f"HTTP {', '.join(parts)}"
        if message:
            text += f": {message}"
        if self.outcome is Outcome.REJECTED and isinstance(self.body, dict):
            errors = self.body.get("errors")
            if errors:
                text += f" {orjson.dumps(errors).decode()[:300]}"
        return text

    def names_profile(self) -> bool:
        """A 400 that blames the username or avatar (a sink's, not an event's, fault)."""
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return isinstance(errors, dict) and bool({"username", "avatar_url"} & errors.keys())

    def rate_limit_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k in RATE_LIMIT_HEADERS}


class WebhookClient:
    """Posts payloads to webhooks over one shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def execute(
        self, url: WebhookURL, payload: dict[str, Any], *, thread_id: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> Response:
        """POST `payload` with `?wait=true` (and `thread_id=` to post in a thread); the
        answer, never an exception. With `files` the body is multipart: `payload_json`
        then `files[n]` (a message's flags, e.g. suppress notifications, are in `payload`)."""
        params = {"wait": "true"}
        if thread_id:
            params["thread_id"] = thread_id
        body: Any = orjson.dumps(payload)
        headers: dict[str, str] | None = {"Content-Type": "application/json"}
        if files:
            body, headers = aiohttp.FormData(), None  # aiohttp sets the multipart boundary
            body.add_field("payload_json", orjson.dumps(payload).decode(),
                           content_type="application/json")
            for n, attachment in enumerate(files):
                body.add_field(f"files[{n}]", attachment.data, filename=attachment.filename,
                               content_type=attachment.content_type)
        started = time.monotonic()
        try:
            async with self._session.post(
                url.post_url,
                params=params,
                data=body,
                headers=headers,
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                return Response(
                    status=resp.status,
                    latency=time.monotonic() - started,
                    headers=_canonical_headers(resp.headers),
                    body=_json_or_none(raw),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = scrub_tokens(str(exc), url.token) or type(exc).__name__
            return Response(status=0, latency=time.monotonic() - started,
                            error=f"{type(exc).__name__}: {reason}",
                            timed_out=isinstance(exc, TimeoutError))


    async def edit_message(self, url: WebhookURL, message_id: str, payload: dict[str, Any],
                           *, thread_id: str | None = None) -> Response:
        """PATCH a message this webhook sent (its id from a `?wait=true` answer; `thread_id`
        when it is in a thread); the answer, never an exception. 200 with the message
        means it was edited."""
        started = time.monotonic()
        try:
            async with self._session.patch(
                f"{url.post_url}/messages/{message_id}",
                params={"thread_id": thread_id} if thread_id else None,
                data=orjson.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                return Response(status=resp.status, latency=time.monotonic() - started,
                                headers=_canonical_headers(resp.headers),
                                body=_json_or_none(raw))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = scrub_tokens(str(exc), url.token) or type(exc).__name__
            return Response(status=0, latency=time.monotonic() - started,
                            error=f"{type(exc).__name__}: {reason}",
                            timed_out=isinstance(exc, TimeoutError))

def _canonical_headers(headers: Any) -> dict[str, str]:
    """Header names as Discord documents them, whatever case the server used."""
    wanted = {name.lower(): name for name in RATE_LIMIT_HEADERS}
    return {wanted.get(k.lower(), k): v for k, v in headers.items()}


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
