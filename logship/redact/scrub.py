"""Webhook tokens out of logship's own words: its log lines and the errors it spools.

`scrub_tokens` is the last guard on what logship writes about webhooks: any webhook URL
in a log line or a spooled error keeps its id and loses its token (a token is the
webhook: whoever has it can post). `ScrubbingFormatter` applies it to every line of
logship's own log, tracebacks included.
"""

from __future__ import annotations

import logging
import re

_WEBHOOK_TOKEN = re.compile(r"(webhooks/\d{1,25}/)[^\s/?#\"'<>]+", re.IGNORECASE)


def scrub_tokens(text: str, token: str | None = None) -> str:
    """`text` with the token of every webhook URL in it (and `token` itself) masked.

    >>> scrub_tokens("POST http://127.0.0.1:8030/api/v10/webhooks/1234/s3cr3t?wait=true")
    'POST http://127.0.0.1:8030/api/v10/webhooks/1234/****?wait=true'
    >>> scrub_tokens("the token s3cr3t leaked", token="s3cr3t")
    'the token **** leaked'
    """
    if token and token in text:
        text = text.replace(token, "****")
    if "ebhooks/" in text or "EBHOOKS/" in text:
        text = _WEBHOOK_TOKEN.sub(r"\1****", text)
    return text


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose lines (tracebacks included) carry no webhook token."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub_tokens(super().format(record))
