"""Per-sink privacy: member ids and usernames, as one sink's channel may show them.

A members channel may show who joined; an errors channel read by contractors may not. So
each sink has a `Privacy` filter (its `privacy` table), applied to a copy of each event
the sink renders, after the redactor: member ids are kept, masked (`1234…5678`) or
replaced by a keyed hash (the same member, the same pseudonym), and usernames are kept
or dropped, in the fields and wherever the text repeats them.

Like the redactor it is pure: it reads nothing (a hashing secret is passed in as
bytes), never mutates the event it is given, and returns the very same event when there
is nothing to change.

    [sinks.members]
    privacy = { ids = "hash", usernames = "drop", secret_file = "/run/credentials/x" }

`parse_privacy` reads that table; problems raise `RedactConfigError(key, problem)`
with `key` relative to it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from logship.event import Event
from logship.redact.secrets import (
    CACHE_LEN,
    CACHE_MAX,
    MAX_DEPTH,
    SCALARS,
    CustomPattern,
    RedactConfigError,
    compile_pattern,
    event_with,
    no_unknown_keys,
    normal_key,
    string_list,
)

__all__ = [
    "DEFAULT_ID_KEYS",
    "DEFAULT_USERNAME_KEYS",
    "DEFAULT_USERNAME_PATTERN",
    "MIN_SECRET_BYTES",
    "Privacy",
    "PrivacyConfig",
    "mask_id",
    "parse_privacy",
]

DEFAULT_ID_KEYS: Final[tuple[str, ...]] = ("member_id", "user_id", "author_id")
DEFAULT_USERNAME_KEYS: Final[tuple[str, ...]] = (
    "username", "user_name", "member_name", "display_name",
)
DEFAULT_USERNAME_PATTERN: Final = r"(?<![\w#@])[\w.]{2,32}#(?:0|\d{4})(?![\w#])"
"""A Discord tag in text (`alice#0`, `bob#1234`): dropped with usernames."""
MIN_SECRET_BYTES: Final = 16

IdMode = Literal["keep", "mask", "hash"]
NameMode = Literal["keep", "drop"]


@dataclass(frozen=True)
class PrivacyConfig:
    """How one sink treats member ids and usernames.

    Keys match a field's last dotted part in snake case (`context.memberId` is
    `member_id`). `member_id_keys`/`member_username_keys` count as id/username keys too,
    but only in member events (`kind == "member"`), where tree_log sections say `id:` and
    `member:` (parse/kinds.py renames most of these to member_id and member_name).
    The secret for `ids = "hash"` comes from `secret` (text) or `secret_file` (which the
    caller reads); it never shows in `repr`.
    """

    ids: IdMode = "keep"
    usernames: NameMode = "keep"
    id_keys: tuple[str, ...] = DEFAULT_ID_KEYS
    username_keys: tuple[str, ...] = DEFAULT_USERNAME_KEYS
    member_id_keys: tuple[str, ...] = ("id",)
    member_username_keys: tuple[str, ...] = ("member", "user", "name")
    username_pattern: str | None = DEFAULT_USERNAME_PATTERN
    hash_chars: int = 12
    secret: str | None = field(default=None, repr=False)
    secret_file: str | None = None

    @property
    def is_noop(self) -> bool:
        return self.ids == "keep" and self.usernames == "keep"


def parse_privacy(table: Mapping[str, Any]) -> PrivacyConfig:
    """A sink's `privacy` table as a `PrivacyConfig`; problems raise `RedactConfigError`.

    >>> parse_privacy({"ids": "mask", "usernames": "drop"}).ids
    'mask'
    >>> parse_privacy({"ids": "hash"})
    Traceback (most recent call last):
    ...
    logship.redact.secrets.RedactConfigError: ids: "hash" needs 'secret' or 'secret_file'
    """
    known = {"ids", "usernames", "id_keys", "username_keys", "member_id_keys",
             "member_username_keys", "username_pattern", "hash_chars", "secret", "secret_file"}
    no_unknown_keys(table, known)
    ids = _choice(table, "ids", ("keep", "mask", "hash"))
    usernames = _choice(table, "usernames", ("keep", "drop"))
    secret = _optional_string(table, "secret")
    secret_file = _optional_string(table, "secret_file")
    if secret is not None and secret_file is not None:
        raise RedactConfigError("secret", "set 'secret' or 'secret_file', not both")
    if ids == "hash" and secret is None and secret_file is None:
        raise RedactConfigError("ids", "\"hash\" needs 'secret' or 'secret_file'")
    if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
        raise RedactConfigError("secret", f"must be at least {MIN_SECRET_BYTES} bytes "
                                          "(e.g. `head -c 32 /dev/urandom | base64`)")
    pattern = table.get("username_pattern", DEFAULT_USERNAME_PATTERN)
    if not isinstance(pattern, str):
        raise RedactConfigError("username_pattern", "must be a regex string (\"\" for none)")
    if pattern:
        compile_pattern(CustomPattern("username_pattern", pattern), "username_pattern")
    hash_chars = table.get("hash_chars", 12)
    if type(hash_chars) is not int or not 8 <= hash_chars <= 64:
        raise RedactConfigError("hash_chars", "must be a whole number from 8 to 64")
    keys = {name: tuple(normal_key(k)
                        for k in string_list(table, name, getattr(PrivacyConfig, name)))
            for name in ("id_keys", "username_keys", "member_id_keys", "member_username_keys")}
    return PrivacyConfig(ids=ids, usernames=usernames, username_pattern=pattern or None,  # type: ignore[arg-type]
                         hash_chars=hash_chars, secret=secret, secret_file=secret_file,
                         **keys)


def _choice(table: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = table.get(key, choices[0])
    if value not in choices:
        raise RedactConfigError(key, f"{value!r} is not one of: {', '.join(choices)}")
    return value  # type: ignore[no-any-return]


def _optional_string(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise RedactConfigError(key, f"must be a string, not {type(value).__name__}")
    return value


def mask_id(value: str) -> str:
    """An id with its middle hidden: enough to tell two apart, not to look one up.

    >>> mask_id("123456789012345678"), mask_id("4242")
    ('1234…5678', '****')
    """
    return f"{value[:4]}…{value[-4:]}" if len(value) >= 9 else "****"


class Privacy:
    """One sink's treatment of member ids and usernames, applied to copies of events.

    Fields under id keys are kept, masked or hashed; fields under username keys are
    dropped. In the message, the exception and other string fields, the same happens to
    `member_id=...`/`username=...` forms, to every id or name those fields held, and
    (usernames dropped) to Discord tags like `alice#0`.

    >>> from logship.event import Level
    >>> privacy = Privacy(PrivacyConfig(ids="hash", usernames="drop"), b"0" * 32)
    >>> event = Event(ts=None, level=Level.INFO, message="Member join recorded: alice#0",
    ...               fields={"member_id": "123456789012345678", "username": "alice#0"})
    >>> out = privacy.apply(event)
    >>> out.message, out.fields
    ('Member join recorded: [username]', {'member_id': '9d7f438ffbc7'})
    >>> privacy.apply(event).fields == out.fields  # same user, same hash
    True
    """

    def __init__(self, config: PrivacyConfig, secret: bytes | None = None) -> None:
        if config.ids == "hash":
            if not secret:
                raise RedactConfigError("ids", "\"hash\" needs a secret")
            if len(secret) < MIN_SECRET_BYTES:
                raise RedactConfigError("secret", f"must be at least {MIN_SECRET_BYTES} bytes")
        self.config = config
        self._secret = secret or b""
        self._hide_ids = config.ids != "keep"
        self._drop_names = config.usernames == "drop"
        self._pseudonyms: dict[str, str] = {}
        self._key_kinds: dict[Any, int] = {}
        # strings with no key=value form and no tag in them: in other events, in member events
        self._plain: tuple[set[str], set[str]] = (set(), set())
        ids = _key_set(config.id_keys) if self._hide_ids else frozenset()
        names = _key_set(config.username_keys) if self._drop_names else frozenset()
        member_ids = ids | _key_set(config.member_id_keys) if ids else ids
        member_names = names | _key_set(config.member_username_keys) if names else names
        self._keys = (ids, names, member_ids, member_names)
        self._forms = (
            (_kv_regex(ids, _ID_VALUE), _kv_regex(names, _NAME_VALUE)),
            (_kv_regex(member_ids, _ID_VALUE), _kv_regex(member_names, _NAME_VALUE)),
        )
        pattern = config.username_pattern if self._drop_names else None
        self._tag = re.compile(pattern) if pattern else None

    def pseudonym(self, value: str) -> str:
        """What an id becomes on this sink: itself, masked, or its keyed hash.

        >>> Privacy(PrivacyConfig(ids="mask")).pseudonym("123456789012345678")
        '1234…5678'
        """
        mode = self.config.ids
        if mode == "keep":
            return value
        if mode == "mask":
            return mask_id(value)
        cached = self._pseudonyms.get(value)
        if cached is None:
            digest = hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()
            cached = digest[: self.config.hash_chars]
            if len(self._pseudonyms) >= CACHE_MAX:
                self._pseudonyms.clear()
            self._pseudonyms[value] = cached
        return cached

    def apply(self, event: Event) -> Event:
        """A copy of `event` as this sink may show it (or `event` when nothing changes)."""
        if not self._hide_ids and not self._drop_names:
            return event
        seen = _Seen(event.kind == "member")
        fields = event.fields
        if type(fields) is dict and fields:
            fields = self._fields(fields, seen, 0)
            fields = self._strings(fields, seen, 0)
        message = event.message
        if type(message) is str:
            message = self._text(message, seen)
        exception = event.exception
        if exception:
            exception = self._text(exception, seen)
        if message is event.message and exception is event.exception and fields is event.fields:
            return event
        return event_with(event, message, exception, fields)

    # ---- fields: the keys that hold ids or names

    def _kind(self, key: Any, member: bool) -> int:
        """_KIND_ID, _KIND_NAME or 0 for a field key (cached: a logger uses few keys)."""
        cache_key = (key, member)
        kind = self._key_kinds.get(cache_key)
        if kind is None:
            ids, names, member_ids, member_names = self._keys
            name = normal_key(key) if type(key) is str else ""
            if name in (member_names if member else names):
                kind = _KIND_NAME
            elif name in (member_ids if member else ids):
                kind = _KIND_ID
            else:
                kind = 0
            if len(self._key_kinds) >= CACHE_MAX:
                self._key_kinds.clear()
            self._key_kinds[cache_key] = kind
        return kind

    def _fields(self, fields: dict[Any, Any], seen: _Seen, depth: int) -> dict[Any, Any]:
        """`fields` without username keys and with ids replaced (a copy if any changed)."""
        out: dict[Any, Any] | None = None
        for key, value in fields.items():
            kind = self._kind(key, seen.member)
            if kind == _KIND_NAME:
                seen.names.update(_texts_in(value))
                if out is None:
                    out = dict(fields)
                del out[key]
                continue
            if kind == _KIND_ID:
                new = self._id_value(value, seen)
            elif type(value) is dict and depth < MAX_DEPTH:
                new = self._fields(value, seen, depth + 1)
            else:
                continue
            if new is not value:
                if out is None:
                    out = dict(fields)
                out[key] = new
        return fields if out is None else out

    def _id_value(self, value: Any, seen: _Seen) -> Any:
        if type(value) is int or type(value) is str:
            text = str(value)
            if not text:
                return value
            seen.ids.add(text)
            return self.pseudonym(text)
        if type(value) is list:
            return [self._id_value(item, seen) for item in value]
        return value

    def _strings(self, value: Any, seen: _Seen, depth: int) -> Any:
        """`_text` applied to every string in `value` but those under id keys."""
        kind = type(value)
        if kind is str:
            return self._text(value, seen)
        if depth >= MAX_DEPTH or (kind is not dict and kind is not list):
            return value
        if kind is list:
            items = [self._strings(item, seen, depth + 1) for item in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            if type(item) in SCALARS or item is None or self._kind(key, seen.member) == _KIND_ID:
                continue
            new = self._strings(item, seen, depth + 1)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out

    # ---- text: key=value forms, known values, Discord tags

    def _text(self, text: str, seen: _Seen) -> str:
        out = text
        if text not in self._plain[seen.member]:
            out = self._forms_in(text, seen.member)
        for value in seen.ids:
            if value in out:
                out = _replace_word(out, value, self.pseudonym(value))
        for value in seen.names_longest_first():
            if value in out:
                out = _replace_word(out, value, "[username]")
        return text if out == text else out

    def _forms_in(self, text: str, member: bool) -> str:
        """`key=value` forms of id and username keys, and Discord tags, replaced."""
        (ids, id_needles), (names, name_needles) = self._forms[member]
        low = text.lower()
        out = text
        if ids is not None and _any_in(id_needles, low):
            out = _sub_value(ids, out, self.pseudonym)
        if names is not None and _any_in(name_needles, low):
            out = _sub_value(names, out, _dropped)
        if self._tag is not None and "#" in out:
            out = self._tag.sub("[username]", out)
        if out == text and len(text) <= CACHE_LEN and not _any_in(id_needles, low) \
                and not _any_in(name_needles, low) and (self._tag is None or "#" not in text):
            plain = self._plain[member]
            if len(plain) >= CACHE_MAX:
                plain.clear()
            plain.add(text)
        return out


def _key_set(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normal_key(key) for key in keys)


_KIND_ID = 1
_KIND_NAME = 2
_ID_VALUE = r"\d{1,25}"
_NAME_VALUE = r"[^\s,;)\]}\"']+"


@dataclass(slots=True)
class _Seen:
    """What one event's fields said: is it a member event, which ids and names it held."""

    member: bool
    ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def names_longest_first(self) -> list[str]:
        return sorted(self.names, key=len, reverse=True) if self.names else []


def _dropped(_: str) -> str:
    return "[username]"


def _any_in(needles: tuple[str, ...], text: str) -> bool:
    return any(map(text.__contains__, needles))


def _kv_regex(keys: frozenset[str], value: str) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """`key=value`, `key: value` or `"key": "value"` for any of `keys` (group 1: the value),
    and the lowercase substrings a text needs to hold for it to match at all."""
    if not keys:
        return None, ()
    ordered = sorted(keys, key=len, reverse=True)
    names = "|".join(re.escape(k) for k in ordered)
    regex = re.compile(
        rf"(?<![A-Za-z0-9_])(?i:{names})(?![A-Za-z0-9_])[\"']?[ \t]*[:=][ \t]*[\"']?({value})"
    )
    return regex, tuple(ordered)


def _sub_value(regex: re.Pattern[str] | None, text: str, new: Callable[[str], str]) -> str:
    if regex is None:
        return text

    def one(match: re.Match[str]) -> str:
        start, end = match.span(1)
        base = match.start()
        whole = match.group(0)
        return whole[: start - base] + new(match.group(1)) + whole[end - base:]

    return regex.sub(one, text)


def _texts_in(value: Any) -> list[str]:
    """The strings a dropped username field held (to find them in text), 3+ chars only."""
    items = value if type(value) is list else [value]
    return [str(v) for v in items if type(v) in (str, int) and len(str(v)) >= 3]


def _replace_word(text: str, value: str, new: str) -> str:
    """`text` with each whole-word occurrence of `value` replaced by `new`.

    >>> _replace_word("bob met bobby; bob#0 left", "bob", "X")
    'X met bobby; X#0 left'
    """
    if len(value) < 3 or value not in text:
        return text
    parts: list[str] = []
    start = 0
    while (at := text.find(value, start)) >= 0:
        end = at + len(value)
        before = text[at - 1] if at else " "
        after = text[end] if end < len(text) else " "
        if (_word_char(before) and _word_char(value[0])) or (
                _word_char(after) and _word_char(value[-1])):
            parts.append(text[start:end])
        else:
            parts.append(text[start:at] + new)
        start = end
    parts.append(text[start:])
    return "".join(parts)


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"
