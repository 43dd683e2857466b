"""A Discord sink's own options: its webhook, how its messages look, its budgets.

    [sinks.errors]
    url = "${DISCORD_WEBHOOK_ERRORS}"   # or url_file = "/run/credentials/logship.service/errors"
    username = "StatsBot logs"

The worker's options (queue, retries, circuit, storm mode, privacy) are every sink
type's and parsed by `logship.config`; these are only Discord's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from logship.config import Reader, SinkConfig
from logship.sinks.discord.url import WebhookURL, WebhookURLError

_SNOWFLAKE = re.compile(r"^[1-9][0-9]{0,19}$")


@dataclass(frozen=True)
class DiscordOptions:
    url: WebhookURL
    username: str | None = None
    avatar_url: str | None = None
    channel: str | None = None  # sinks naming the same channel share its message budget
    webhook_requests: int = 5  # local budget before Discord's headers say otherwise
    webhook_window: float = 2.0
    channel_messages: int = 30
    channel_window: float = 60.0
    max_file_bytes: int = 10 << 20  # one attachment (Discord's default upload limit)
    max_request_bytes: int = 10 << 20  # one request's body and files together
    timeout: float = 10.0
    thread_id: str | None = None  # post into this thread (query string `thread_id=`)
    thread_name: str | None = None  # forum channel: each message opens a post of this name
    embeds: bool = True  # False: plain text messages (2000 characters, several events)
    suppress_notifications: bool = False  # message flag 4096: no push notification
    files: bool = True  # attach what does not fit an embed (a long traceback) as a file
    api_base: str | None = None  # a Discord REST proxy (nirn-proxy) to send through
    # seconds: a backlog goes out in full embeds while the budget clears it within this;
    # past that, as digests (a line per event, every event attached in full)
    digest_after: float = 60.0

    @property
    def channel_key(self) -> str:
        """What its channel budget is shared by: the `channel` named, else the webhook."""
        return self.channel or f"webhook:{self.url.webhook_id}"


NUMBERS = {  # option: minimum
    "webhook_requests": 1, "webhook_window": 0.1, "channel_messages": 1,
    "channel_window": 0.1, "max_file_bytes": 1024, "max_request_bytes": 131072,
    "timeout": 0.1, "digest_after": 0.0,
}
KEYS = frozenset({"url", "url_file", "username", "avatar_url", "channel", "thread_id",
                  "thread_name", "embeds", "suppress_notifications", "files", "api_base",
                  *NUMBERS})


def parse_options(r: Reader, t: Mapping[str, Any], key: str) -> DiscordOptions:
    """A Discord sink's options from its table `t` (at `key`), validated."""
    defaults = DiscordOptions(url=None)  # type: ignore[arg-type]
    numbers = {option: type(getattr(defaults, option))(
                   r.number(t, option, key, getattr(defaults, option), minimum=minimum))
               for option, minimum in NUMBERS.items()}
    username = r.string(t, "username", key, default=None)
    if username is not None:
        check_username(r, username, f"{key}.username")
    url = webhook_url(r, t, key)
    api_base = proxy_base(r, t, key)
    if api_base is not None:
        url = replace(url, base=api_base)  # Discord's paths, the proxy's host
    return DiscordOptions(url=url, username=username, api_base=api_base,
                          avatar_url=r.string(t, "avatar_url", key, default=None),
                          channel=r.string(t, "channel", key, default=None),
                          **numbers, **_message_options(r, t, key))


def webhook_url(r: Reader, t: Mapping[str, Any], key: str) -> WebhookURL:
    """`url`, or the content of `url_file`: exactly one of them."""
    if ("url" in t) == ("url_file" in t):
        raise r.fail(key, "set exactly one of 'url' or 'url_file'")
    which = "url" if "url" in t else "url_file"
    url = r.string(t, "url", key, default=None) if which == "url" else r.secret_file(
        t, "url_file", key)
    assert url is not None
    try:
        return WebhookURL.parse(url)
    except WebhookURLError as exc:
        raise r.fail(f"{key}.{which}", str(exc)) from None


def proxy_base(r: Reader, t: Mapping[str, Any], key: str) -> str | None:
    """`api_base`: a Discord REST rate-limit proxy that keeps Discord's paths (nirn-proxy
    and its kin), as scheme://host[:port]; the webhook's token goes to it."""
    text = r.string(t, "api_base", key, default=None)
    if text is None:
        return None
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise r.fail(f"{key}.api_base", "must be http(s)://host[:port] (a proxy that keeps "
                                        f"Discord's paths), not {text!r}")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def check_username(r: Reader, username: str, key: str) -> None:
    """Discord refuses these usernames with a 400, so refuse them here first."""
    lowered = username.lower()
    if not 1 <= len(username) <= 80:
        raise r.fail(key, "must be 1 to 80 characters")
    if "discord" in lowered or "clyde" in lowered or lowered in ("everyone", "here"):
        raise r.fail(key, "Discord rejects usernames containing 'discord' or 'clyde', "
                          "or equal to 'everyone' or 'here'")


def _message_options(r: Reader, t: Mapping[str, Any], key: str) -> dict[str, Any]:
    """How a sink's messages look: thread, plain text, notifications, files."""
    thread_id = t.get("thread_id")
    if thread_id is not None:
        if isinstance(thread_id, int) and not isinstance(thread_id, bool):
            thread_id = str(thread_id)
        if not isinstance(thread_id, str) or not _SNOWFLAKE.match(thread_id):
            raise r.fail(f"{key}.thread_id", "must be a thread's id (a snowflake such as "
                                             f"\"123456789012345678\"), not {thread_id!r}")
    thread_name = r.string(t, "thread_name", key, default=None)
    if thread_name is not None and not (0 < len(thread_name) <= 100 and thread_name.strip()):
        raise r.fail(f"{key}.thread_name", "must be 1 to 100 characters")
    if thread_id is not None and thread_name is not None:
        raise r.fail(f"{key}.thread_name", "set thread_id (post in that thread) or "
                                           "thread_name (open a forum post per message), "
                                           "not both")
    return {
        "thread_id": thread_id,
        "thread_name": thread_name,
        "embeds": r.boolean(t, "embeds", key, True),
        "suppress_notifications": r.boolean(t, "suppress_notifications", key, False),
        "files": r.boolean(t, "files", key, True),
    }


def discord_sink(name: str, url: WebhookURL | str, **options: Any) -> SinkConfig:
    """A Discord sink's config made in code (tests, benchmarks), options of both kinds
    by keyword: the worker's (`queue_size`, `privacy`, ...) and Discord's.

    >>> discord_sink("errors", "https://discord.com/api/webhooks/123456789012345678/t",
    ...              username="bot", queue_size=10).options.username
    'bot'
    """
    from logship.config import SINK_COMMON, SinkConfig

    common = {k: options.pop(k) for k in [*SINK_COMMON, "privacy"] if k in options}
    if isinstance(url, str):
        url = WebhookURL.parse(url)
    return SinkConfig(name=name, options=DiscordOptions(url=url, **options), **common)
