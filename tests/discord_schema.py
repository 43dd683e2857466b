"""Would Discord accept this Execute Webhook body? An offline answer for tests.

Two layers, kept independent of logship's own code (and of its emulator) on purpose:

1. Discord's OpenAPI description (`logship/data/discord/openapi.json`): the whole
   document is the root schema, with `"$ref"` pointing at the request body
   `IncomingWebhookRequestPartial`, validated with `jsonschema.Draft202012Validator`.
2. What that schema does not check but Discord still refuses with 400/50035
   (shared/discord/README.md): the 6000-character total across all embeds, an empty
   body, forbidden usernames, `parse` combined with `users`/`roles`, empty field names
   or values, timestamps that are not ISO 8601, and text that is not valid Unicode
   (it cannot even be sent as UTF-8 JSON).

Lengths are Unicode code points, as Discord counts them (discord/discord-api-docs#1315).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from jsonschema import Draft202012Validator

BODY_SCHEMA = "#/components/schemas/IncomingWebhookRequestPartial"
TOTAL_MAX = 6000
# Limits from discord-api-docs, checked here again so a wrong schema cannot hide them.
LIMITS: dict[str, int] = {
    "content": 2000,
    "embeds": 10,
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field.name": 256,
    "field.value": 1024,
    "footer.text": 2048,
    "author.name": 256,
    "username": 80,
    "thread_name": 100,
}
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


@functools.cache
def body_validator() -> Draft202012Validator:
    """A validator for the Execute Webhook JSON body (built once)."""
    resource = importlib.resources.files("logship") / "data/discord/openapi.json"
    root = json.loads(resource.read_text(encoding="utf-8"))
    root["$ref"] = BODY_SCHEMA
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def execute_webhook_errors(payload: Any) -> list[str]:
    """Every reason Discord would refuse `payload`; an empty list when it would not."""
    errors = [
        f"schema: {'/'.join(map(str, e.absolute_path)) or '<body>'}: "
        f"{e.validator} {e.validator_value!r} failed ({e.message[:120]})"
        for e in body_validator().iter_errors(payload)
    ]
    if not isinstance(payload, Mapping):
        return errors or ["body is not an object"]
    errors += _encoding_errors(payload)
    errors += _body_errors(payload)
    errors += _username_errors(payload.get("username"))
    errors += _mention_errors(payload.get("allowed_mentions"))
    embeds = payload.get("embeds") or []
    if isinstance(embeds, list):
        errors += _embeds_errors(embeds)
    return errors


def _encoding_errors(payload: Mapping[str, Any]) -> list[str]:
    try:
        orjson.dumps(payload)
    except TypeError as exc:  # orjson.JSONEncodeError: lone surrogates, odd types
        return [f"body cannot be sent as JSON: {exc}"]
    return []


def _too_long(what: str, value: Any) -> list[str]:
    limit = LIMITS[what]
    if isinstance(value, str | list) and len(value) > limit:
        return [f"{what}: {len(value)} > {limit}"]
    return []


def _body_errors(payload: Mapping[str, Any]) -> list[str]:
    errors = _too_long("content", payload.get("content"))
    errors += _too_long("embeds", payload.get("embeds"))
    errors += _too_long("thread_name", payload.get("thread_name"))
    content = payload.get("content")
    has_content = isinstance(content, str) and content.strip() != ""
    has_other = any(payload.get(k) for k in ("embeds", "attachments", "components", "poll"))
    if not (has_content or has_other):
        errors.append("empty message: no content, embeds, files, components or poll")
    avatar = payload.get("avatar_url")
    if avatar is not None and not re.match(r"^https?://\S+$", str(avatar)):
        errors.append(f"avatar_url is not an http(s) URL: {avatar!r}")
    return errors


def _username_errors(username: Any) -> list[str]:
    if username is None:
        return []
    if not isinstance(username, str):
        return ["username is not a string"]
    errors = _too_long("username", username)
    lowered = username.lower()
    if not username.strip():
        errors.append("username is empty")
    if "discord" in lowered or "clyde" in lowered:
        errors.append(f"username contains 'discord' or 'clyde': {username!r}")
    if lowered.strip() in ("everyone", "here"):
        errors.append(f"username is {username!r}")
    return errors


def _mention_errors(mentions: Any) -> list[str]:
    if not isinstance(mentions, Mapping):
        return []
    parse = mentions.get("parse") or []
    return [
        f"allowed_mentions: {kind!r} in parse and a {kind} list"
        for kind in ("users", "roles")
        if kind in parse and mentions.get(kind)
    ]


def embed_size(embed: Mapping[str, Any]) -> int:
    """Characters of one embed toward the 6000 total, counted as Discord does."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    return size


def _embeds_errors(embeds: list[Any]) -> list[str]:
    errors: list[str] = []
    objects = [e for e in embeds if isinstance(e, Mapping)]
    for index, embed in enumerate(objects):
        errors += [f"embeds/{index}/{message}" for message in _embed_errors(embed)]
    total = sum(embed_size(e) for e in objects)
    if total > TOTAL_MAX:
        errors.append(f"embeds: {total} characters in all > {TOTAL_MAX}")
    return errors


def _embed_errors(embed: Mapping[str, Any]) -> list[str]:
    errors = _too_long("title", embed.get("title"))
    errors += _too_long("description", embed.get("description"))
    errors += _too_long("footer.text", (embed.get("footer") or {}).get("text"))
    errors += _too_long("author.name", (embed.get("author") or {}).get("name"))
    fields = embed.get("fields") or []
    errors += _too_long("fields", fields)
    for index, item in enumerate(fields):
        for part in ("name", "value"):
            text = item.get(part)
            errors += [f"fields/{index}/{e}" for e in _too_long(f"field.{part}", text)]
            if not isinstance(text, str) or not text.strip():
                errors.append(f"fields/{index}/{part} is empty")
    timestamp = embed.get("timestamp")
    if timestamp is not None and not _is_timestamp(timestamp):
        errors.append(f"timestamp is not ISO 8601: {timestamp!r}")
    # Conservative: an embed with nothing to show is refused (or shows nothing).
    if embed_size(embed) == 0 and not any(
        embed.get(k) for k in ("image", "thumbnail", "video", "url")
    ):
        errors.append("embed is empty")
    return errors


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or not RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
