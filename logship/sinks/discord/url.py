"""Discord webhook URLs: the forms users paste, the one logship posts to, a token never shown.

A webhook URL is a secret (anyone holding it can post to the channel), so `WebhookURL`
keeps the token out of `str()`/`repr()` and every message logship prints uses `masked`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from logship.errors import ConfigError

DISCORD_HOSTS = frozenset(
    {
        "discord.com",
        "discordapp.com",
        "ptb.discord.com",
        "canary.discord.com",
        "ptb.discordapp.com",
        "canary.discordapp.com",
    }
)
_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d{15,21})/([A-Za-z0-9_\-.]{1,200})/?$")
_API_VERSION = "v10"


class WebhookURLError(ConfigError, ValueError):
    """The text is not a webhook URL logship will post to (the config places it)."""

    def __init__(self, problem: str) -> None:
        super().__init__(None, "", problem)


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only non-Discord hosts allowed.

    >>> is_loopback_host("127.0.0.5"), is_loopback_host("::1"), is_loopback_host("10.0.0.1")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebhookURL:
    """A parsed webhook URL.

    >>> url = WebhookURL.parse("https://discordapp.com/api/webhooks/123456789012345678/abc")
    >>> url.post_url
    'https://discord.com/api/v10/webhooks/123456789012345678/abc'
    >>> str(url)
    '…/webhooks/123456789012345678/****'
    """

    webhook_id: str
    token: str = field(repr=False)
    base: str  # scheme://host[:port], no trailing slash

    @classmethod
    def parse(cls, text: str) -> WebhookURL:
        text = text.strip()
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        match = _PATH.match(parts.path)
        if not match:
            raise WebhookURLError(
                "not a webhook URL: expected https://discord.com/api/webhooks/ID/TOKEN"
            )
        if host in DISCORD_HOSTS:
            if parts.scheme != "https":
                raise WebhookURLError("a Discord webhook URL must use https")
            base = "https://discord.com"
        elif is_loopback_host(host):
            if parts.scheme not in ("http", "https"):
                raise WebhookURLError("a loopback webhook URL must use http or https")
            netloc = parts.netloc.rsplit("@", 1)[-1]
            base = f"{parts.scheme}://{netloc}"
        else:
            raise WebhookURLError(
                f"host {host or '(none)'!r} is not Discord; only discord.com (and loopback "
                "addresses for local emulators) are accepted"
            )
        return cls(webhook_id=match.group(1), token=match.group(2), base=base)

    @property
    def post_url(self) -> str:
        """Where logship posts (the token is in it: never print this)."""
        return f"{self.base}/api/{_API_VERSION}/webhooks/{self.webhook_id}/{self.token}"

    @property
    def masked(self) -> str:
        return f"…/webhooks/{self.webhook_id}/****"

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"WebhookURL({self.masked})"
