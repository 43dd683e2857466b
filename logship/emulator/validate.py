"""Would Discord accept this Execute Webhook body? The emulator's validator.

Every body is checked against Discord's own OpenAPI schema
(`logship/data/discord/openapi.json`) *and* the rules the schema misses: the 6000
characters across all embeds, empty messages, forbidden usernames, `allowed_mentions`
conflicts, the documented length limits, the number and size of files. Each problem is
a `Problem` (where, Discord's error code, why); `payload_errors` gives them as text,
`nested_errors` as the `errors` object of Discord's 400 (code 50035) answer, the way
Discord refuses a whole message. `pinging_mentions` says who a message would notify.

It is what `FakeDiscord` answers with, and what `logship preview` runs offline. It
imports nothing of the logship code it judges.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

JSON = dict[str, Any]

SCHEMA_REF = "#/components/schemas/IncomingWebhookRequestPartial"

# Discord's documented limits (discord-api-docs; see shared/discord/README.md). Written
# out again, not imported from logship.sinks.discord.render, on purpose: the emulator judges
# what logship sends, so a wrong number in one copy is caught by the other.
CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
USERNAME_MIN, USERNAME_MAX = 1, 80
THREAD_NAME_MAX = 100
FILES_MAX = 10
FILE_SIZE_MAX = 10 * 1024 * 1024

_EVERYONE = re.compile(r"@(everyone|here)\b")
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Problem:
    """One reason Discord would refuse a body: where, Discord's error code, and why."""

    path: tuple[str | int, ...]
    code: str
    message: str

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.path) or "body"
        return f"{where}: {self.message}"


def payload_errors(payload: object, *, files: int = 0) -> list[str]:
    """Why Discord would refuse `payload` as an Execute Webhook body (empty: it accepts).

    `files` is how many files come with it (multipart), which makes an empty body valid.

    >>> payload_errors({"content": "hello"})
    []
    >>> payload_errors({"content": "hi", "username": "Discord bot"})
    ['username: Username cannot contain "discord"']
    """
    return [str(problem) for problem in payload_problems(payload, files=files)]


def payload_problems(payload: object, *, files: int = 0) -> list[Problem]:
    """`payload_errors` as `Problem`s, for building Discord's nested error body."""
    if not isinstance(payload, dict):
        return [Problem((), "DICT_TYPE_CONVERT", "the body must be a JSON object")]
    found = [*_schema_problems(payload), *_limit_problems(payload),
             *_rule_problems(payload, files)]
    return list(dict.fromkeys(found))  # the schema and the limits may say the same thing


@cache
def _validator() -> Draft202012Validator:
    resource = importlib.resources.files("logship") / "data/discord/openapi.json"
    root = json.loads(resource.read_text(encoding="utf-8"))
    root["$ref"] = SCHEMA_REF
    return Draft202012Validator(root)


def _schema_problems(payload: JSON) -> Iterator[Problem]:
    for error in _validator().iter_errors(payload):
        leaf = best_match([error])
        yield Problem(tuple(leaf.absolute_path), _schema_code(leaf), _schema_message(leaf))


def _schema_code(error: ValidationError) -> str:
    codes = {"maxLength": "BASE_TYPE_BAD_LENGTH", "minLength": "BASE_TYPE_BAD_LENGTH",
             "maxItems": "BASE_TYPE_BAD_LENGTH", "required": "BASE_TYPE_REQUIRED",
             "type": "BASE_TYPE_INVALID"}
    return codes.get(str(error.validator), "BASE_TYPE_INVALID")


def _schema_message(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("maxLength", "minLength", "maxItems"):
        return _length_message(schema.get("minLength", 0), schema.get(
            "maxLength", schema.get("maxItems")))
    if error.validator == "required":
        return "This field is required"
    if error.validator == "type":
        wanted = error.validator_value
        names = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
        return f"must be of type {names}, not {_json_type(error.instance)}"
    return shorten(error.message)


def _length_message(minimum: int, maximum: int | None) -> str:
    if minimum and maximum is not None:
        return f"Must be between {minimum} and {maximum} in length."
    if maximum is not None:
        return f"Must be {maximum} or fewer in length."
    return f"Must be {minimum} or more in length."


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
             dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_length(path: tuple[str | int, ...], value: object, maximum: int,
                  minimum: int = 0) -> Iterator[Problem]:
    """A problem if `value` (a string or a list) is outside minimum..maximum."""
    if isinstance(value, str | list) and not minimum <= len(value) <= maximum:
        yield Problem(path, "BASE_TYPE_BAD_LENGTH", _length_message(minimum, maximum))


def _limit_problems(payload: JSON) -> Iterator[Problem]:
    yield from _check_length(("content",), payload.get("content"), CONTENT_MAX)
    yield from _check_length(("username",), payload.get("username"), USERNAME_MAX,
                             USERNAME_MIN)
    yield from _check_length(("thread_name",), payload.get("thread_name"), THREAD_NAME_MAX)
    embeds = payload.get("embeds")
    yield from _check_length(("embeds",), embeds, EMBEDS_MAX)
    for index, embed in enumerate(objects_in(embeds)):
        yield from _embed_limit_problems(("embeds", index), embed)


def _embed_limit_problems(path: tuple[str | int, ...], embed: JSON) -> Iterator[Problem]:
    yield from _check_length((*path, "title"), embed.get("title"), TITLE_MAX)
    yield from _check_length((*path, "description"), embed.get("description"), DESCRIPTION_MAX)
    yield from _check_length((*path, "fields"), embed.get("fields"), FIELDS_MAX)
    for index, item in enumerate(objects_in(embed.get("fields"))):
        where = (*path, "fields", index)
        yield from _check_length((*where, "name"), item.get("name"), FIELD_NAME_MAX, 1)
        yield from _check_length((*where, "value"), item.get("value"), FIELD_VALUE_MAX, 1)
    footer, author = embed.get("footer"), embed.get("author")
    if isinstance(footer, dict):
        yield from _check_length((*path, "footer", "text"), footer.get("text"), FOOTER_MAX)
    if isinstance(author, dict):
        yield from _check_length((*path, "author", "name"), author.get("name"), AUTHOR_MAX)
    yield from _timestamp_problems((*path, "timestamp"), embed.get("timestamp"))


def _timestamp_problems(path: tuple[str | int, ...], value: object) -> Iterator[Problem]:
    if not isinstance(value, str):
        return
    try:
        datetime.fromisoformat(value)
    except ValueError:
        yield Problem(path, "DATE_TIME_TYPE_PARSE",
                      f"Could not parse {shorten(value, 40)!r}. Should be ISO8601.")


def _rule_problems(payload: JSON, files: int) -> Iterator[Problem]:
    if _is_empty(payload, files):
        yield Problem((), "MESSAGE_EMPTY",
                      "Cannot send an empty message: give content, embeds or files")
    total = embed_chars(payload.get("embeds"))
    if total > EMBED_TOTAL_MAX:
        yield Problem(("embeds",), "MAX_EMBED_SIZE_EXCEEDED",
                      f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX} (it is {total})")
    yield from _username_problems(payload.get("username"))
    yield from _mention_problems(payload.get("allowed_mentions"))


def _is_empty(payload: JSON, files: int) -> bool:
    content = payload.get("content")
    has_content = isinstance(content, str) and content.strip() != ""
    others = ("embeds", "components", "poll", "attachments", "sticker_ids")
    return not (has_content or files or any(payload.get(key) for key in others))


def embed_chars(embeds: object) -> int:
    """Characters Discord counts toward the 6000 total of a message's embeds."""
    return sum(len(text) for embed in objects_in(embeds) for text in _embed_texts(embed))


def _embed_texts(embed: JSON) -> Iterator[str]:
    """The texts of one embed that count toward the total (and that could mention)."""
    values: list[object] = [embed.get("title"), embed.get("description")]
    for item in objects_in(embed.get("fields")):
        values += [item.get("name"), item.get("value")]
    for part in ("footer", "text"), ("author", "name"):
        holder = embed.get(part[0])
        if isinstance(holder, dict):
            values.append(holder.get(part[1]))
    yield from (value for value in values if isinstance(value, str))


def _username_problems(username: object) -> Iterator[Problem]:
    if not isinstance(username, str):
        return
    lowered = username.lower()
    for banned in ("discord", "clyde"):
        if banned in lowered:
            yield Problem(("username",), "USERNAME_INVALID_CONTAINS",
                          f'Username cannot contain "{banned}"')
    if lowered.strip() in ("everyone", "here"):
        yield Problem(("username",), "USERNAME_INVALID", f'Username cannot be "{username}"')


def _mention_problems(allowed: object) -> Iterator[Problem]:
    if not isinstance(allowed, dict) or not isinstance(allowed.get("parse"), list):
        return
    for kind in ("users", "roles"):
        if kind in allowed["parse"] and allowed.get(kind):
            yield Problem(("allowed_mentions",), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                          f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.')


def objects_in(value: object) -> Iterator[JSON]:
    """The objects of a JSON array (nothing when `value` is not one)."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def nested_errors(problems: Iterable[Problem]) -> JSON:
    """Discord's `errors` object: the path as nested keys, `_errors` lists at the leaves."""
    root: JSON = {}
    for problem in problems:
        node = root
        for part in problem.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return root


def file_problems(files: Sequence[tuple[str, bytes]]) -> Iterator[Problem]:
    """Too many files for one message, or a file over Discord's upload limit."""
    if len(files) > FILES_MAX:
        yield Problem(("files",), "BASE_TYPE_BAD_LENGTH", _length_message(0, FILES_MAX))
    for index, (name, data) in enumerate(files):
        size = len(data)
        if size > FILE_SIZE_MAX:
            yield Problem(("files", index), "FILE_TOO_LARGE",
                          f"{name} is {size} bytes, more than {FILE_SIZE_MAX}")


# ----------------------------------------------------------------------------- mentions


def pinging_mentions(payload: JSON) -> list[str]:
    """The mentions in `payload` that would notify someone, given its allowed_mentions.

    Without `allowed_mentions` Discord parses every mention in the text.

    >>> pinging_mentions({"content": "hi @everyone <@42>"})
    ['@everyone', '<@42>']
    >>> pinging_mentions({"content": "hi @everyone", "allowed_mentions": {"parse": []}})
    []
    """
    parse, users, roles = _allowed(payload.get("allowed_mentions"))
    found: list[str] = []
    for text in _mention_texts(payload):
        if "everyone" in parse:
            found += [m.group(0) for m in _EVERYONE.finditer(text)]
        found += [m.group(0) for m in _USER_MENTION.finditer(text)
                  if "users" in parse or m.group(1) in users]
        found += [m.group(0) for m in _ROLE_MENTION.finditer(text)
                  if "roles" in parse or m.group(1) in roles]
    return found


def _allowed(allowed: object) -> tuple[set[str], set[str], set[str]]:
    """What may be parsed: (parse kinds, user ids, role ids)."""
    if not isinstance(allowed, dict):
        return {"everyone", "users", "roles"}, set(), set()

    def strings(key: str) -> set[str]:
        value = allowed.get(key)
        return {str(item) for item in value} if isinstance(value, list) else set()

    return strings("parse"), strings("users"), strings("roles")


def _mention_texts(payload: JSON) -> Iterator[str]:
    content = payload.get("content")
    if isinstance(content, str):
        yield content
    for embed in objects_in(payload.get("embeds")):
        yield from _embed_texts(embed)
