"""Execute Webhook request bodies that Discord accepts, and who they may ping.

`build_payload` makes the JSON body of one message from embeds (`pack` chooses how many
fit), content, the sink's profile (username, avatar), a thread name, flags and files
(described in `attachments`; they travel as multipart `files[n]`). It raises ValueError
rather than make a body Discord would refuse.

Mentions: text is kept faithful, `@everyone` included. Embeds never ping, and every
body carries `allowed_mentions: {"parse": []}` unless a route opts in with `mention`:
then its role and user ids, and only those, are allowed (`mention_parts`); so a log
line that quotes `@everyone` (or a role or user mention) pings nobody.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from logship.errors import PayloadError
from logship.sinks.discord.render.embed import Attachment, Embed
from logship.sinks.discord.render.limits import (
    ATTACHMENT_DESCRIPTION_MAX,
    AVATAR_URL_MAX,
    CONTENT_MAX,
    EMBEDS_MAX,
    FILE_MAX,
    FILES_MAX,
    MENTIONS_PER_TYPE,
    THREAD_NAME_MAX,
    TOTAL_MAX,
    USERNAME_MAX,
)
from logship.sinks.discord.render.text import clean, fit_text, truncate


class Message(NamedTuple):
    """One Execute Webhook request: the JSON body, and the files that make it multipart
    (`payload_json` + `files[n]`, n the index here)."""

    body: dict[str, Any]
    files: tuple[Attachment, ...] = ()


def pack(embeds: Sequence[Embed], max_embeds: int = EMBEDS_MAX, max_chars: int = TOTAL_MAX) -> int:
    """How many of the leading `embeds` fit in one message: at most `max_embeds`, sizes
    adding up to at most `max_chars`, and at least one if there is any (every embed
    from `render_embed` fits a message on its own).

    >>> pack([Embed({}, 2500)] * 3), pack([Embed({}, 10)] * 12), pack([])
    (2, 10, 0)
    """
    count = total = 0
    for embed in embeds[:max_embeds]:
        total += embed.size
        if total > max_chars and count:
            break
        count += 1
    return count


def build_payload(
    embeds: Sequence[Embed],
    *,
    username: str | None = None,
    avatar_url: str | None = None,
    allowed_mentions: Mapping[str, Any] | None = None,
    content: str | None = None,
    thread_name: str | None = None,
    flags: int | None = None,
    files: Sequence[Attachment] = (),
) -> dict[str, Any]:
    """The JSON body of one Execute Webhook request carrying `embeds` (use `pack` to
    choose how many). Keys that would be None are left out; `allowed_mentions` is
    always there, `{"parse": []}` unless given. `content` is cut to 2000 (at a line
    boundary when it can be, code fences closed). `files` go in the multipart body as
    `files[n]`; here they are described in `attachments` (id n, filename, description).

    Raises ValueError for more than 10 embeds or 6000 characters, an empty message,
    more than 10 files, or a username or thread name Discord refuses.

    >>> build_payload([Embed.of({"title": "hi"})], username="logs")
    {'embeds': [{'title': 'hi'}], 'username': 'logs', 'allowed_mentions': {'parse': []}}
    """
    if len(embeds) > EMBEDS_MAX:
        raise PayloadError(f"{len(embeds)} embeds: a message holds at most {EMBEDS_MAX}")
    total = sum(e.size for e in embeds)
    if total > TOTAL_MAX:
        raise PayloadError(f"embeds hold {total} characters: a message holds at most {TOTAL_MAX}")
    if len(files) > FILES_MAX:
        raise PayloadError(f"{len(files)} files: a message holds at most {FILES_MAX}")
    body: dict[str, Any] = {}
    if content is not None and content.strip():
        body["content"] = fit_text(content, CONTENT_MAX)
    if embeds:
        body["embeds"] = [e.data for e in embeds]
    if files:
        body["attachments"] = [_attachment_entry(n, f) for n, f in enumerate(files)]
    if not body:
        raise PayloadError("empty message: it needs content or at least one embed")
    if thread_name is not None:
        if not 0 < len(thread_name) <= THREAD_NAME_MAX or not thread_name.strip():
            raise PayloadError(f"thread_name must be 1 to {THREAD_NAME_MAX} characters")
        body["thread_name"] = clean(thread_name)
    if flags:
        body["flags"] = flags
    return body | _options(username, avatar_url, allowed_mentions)


def _attachment_entry(index: int, attachment: Attachment) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": str(index), "filename": attachment.filename}
    if attachment.description:
        entry["description"] = truncate(attachment.description, ATTACHMENT_DESCRIPTION_MAX)
    return entry


def build_text_payload(
    text: str,
    *,
    username: str | None = None,
    avatar_url: str | None = None,
    allowed_mentions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A plain-text message: `text` cut to 2000 characters, mentions off by default.

    >>> build_text_payload("@everyone disk full")
    {'content': '@everyone disk full', 'allowed_mentions': {'parse': []}}
    """
    return build_payload(
        [], username=username, avatar_url=avatar_url, allowed_mentions=allowed_mentions,
        content=text,
    )


_BANNED_USERNAME_PARTS = ("discord", "clyde")
_BANNED_USERNAMES = ("everyone", "here")


def check_username(username: str) -> str:
    """`username` if Discord accepts it for a webhook message, else ValueError.

    >>> check_username("StatsBot logs")
    'StatsBot logs'
    >>> check_username("Discord Bot")
    Traceback (most recent call last):
    ...
    logship.errors.PayloadError: Discord rejects a username containing 'discord': 'Discord Bot'
    """
    if not 1 <= len(username) <= USERNAME_MAX or not username.strip():
        raise PayloadError(f"a username must be 1 to {USERNAME_MAX} characters: {username!r}")
    lowered = username.lower()
    for part in _BANNED_USERNAME_PARTS:
        if part in lowered:
            raise PayloadError(f"Discord rejects a username containing {part!r}: {username!r}")
    if lowered.strip() in _BANNED_USERNAMES:
        raise PayloadError(f"Discord rejects the username {username!r}")
    if clean(username) != username:
        raise PayloadError(f"a username must be valid Unicode: {username!r}")
    return username


def _mentions(allowed_mentions: Mapping[str, Any] | None) -> dict[str, Any]:
    """A fresh copy of `allowed_mentions` (default: nobody), checked for the one
    combination Discord refuses: a type in `parse` and an explicit list of that type."""
    if allowed_mentions is None:
        return {"parse": []}  # a fresh dict each time: callers may change theirs
    mentions = {k: list(v) if isinstance(v, list | tuple) else v
                for k, v in allowed_mentions.items()}
    parse = mentions.get("parse") or []
    for kind in ("users", "roles"):
        if kind in parse and mentions.get(kind):
            raise PayloadError(f"allowed_mentions cannot have {kind!r} in parse and a {kind} list")
    return mentions


def _options(
    username: str | None, avatar_url: str | None, allowed_mentions: Mapping[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if username is not None:
        body["username"] = check_username(username)
    if avatar_url is not None:
        if not 0 < len(avatar_url) <= AVATAR_URL_MAX:
            raise PayloadError(f"avatar_url must be 1 to {AVATAR_URL_MAX} characters")
        body["avatar_url"] = avatar_url
    body["allowed_mentions"] = _mentions(allowed_mentions)
    return body


# -- mentions ---------------------------------------------------------------------------

MENTION_MAX = 1000  # characters of mentions at the head of one message
_ROLE = re.compile(r"<@&(\d{1,20})>")
_USER = re.compile(r"<@!?(\d{1,20})>")


def mention_parts(mentions: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """The `content` that pings exactly `mentions` (role `<@&ID>` and user `<@ID>`
    mentions; anything else is ignored), and the `allowed_mentions` that lets Discord
    ping those ids and nothing else: never @everyone, @here, or an id quoted by a log line.

    >>> mention_parts(["<@&123>", "<@!45>", "@everyone", "<@&123>"])
    ('<@&123> <@45>', {'parse': [], 'roles': ['123'], 'users': ['45']})
    >>> mention_parts([])
    ('', {'parse': []})
    """
    roles: dict[str, None] = {}
    users: dict[str, None] = {}
    size = -1
    for mention in mentions:
        text = mention.strip()
        if match := _ROLE.fullmatch(text):
            ids, text = roles, f"<@&{match.group(1)}>"
        elif match := _USER.fullmatch(text):
            ids, text = users, f"<@{match.group(1)}>"
        else:
            continue
        key = match.group(1)
        if key in ids or len(ids) >= MENTIONS_PER_TYPE or size + len(text) + 1 > MENTION_MAX:
            continue
        ids[key] = None
        size += len(text) + 1
    allowed: dict[str, Any] = {"parse": []}
    if roles:
        allowed["roles"] = list(roles)
    if users:
        allowed["users"] = list(users)
    content = " ".join([f"<@&{r}>" for r in roles] + [f"<@{u}>" for u in users])
    return content, allowed


# -- files ------------------------------------------------------------------------------


def numbered_files(embeds: Sequence[Embed], room: int = FILES_MAX * FILE_MAX
                   ) -> tuple[Attachment, ...]:
    """The files of a message's embeds (at most 10, and `room` bytes: `Renderer.pack`
    makes sure they fit); a name that several share says the position of its embed:
    traceback-3.txt belongs to the third."""
    found = [(n, f) for n, embed in enumerate(embeds, 1) for f in embed.files][:FILES_MAX]
    while len(found) > 1 and sum(len(f.data) for _, f in found) > room:
        found.pop()
    names = Counter(f.filename for _, f in found)
    return tuple(replace(f, filename=_numbered(f.filename, n)) if names[f.filename] > 1 else f
                 for n, f in found)


def _numbered(filename: str, n: int) -> str:
    stem, dot, suffix = filename.rpartition(".")
    return f"{stem}-{n}.{suffix}" if dot else f"{filename}-{n}"
