"""Secrets, removed before anything leaves the host: the `Redactor`.

A bot's log lines end up in a Discord channel that more people can read than the host's
log folder, and Discord keeps them forever. So every event a route sends somewhere passes
through a `Redactor` (once, before it is queued or spooled): it replaces secrets (bot
tokens, webhook tokens, bearer tokens and JWTs, `password=`/`token=`/`api_key=` values,
AWS keys, private key blocks, and optionally e-mail and IP addresses) in the message, the
exception and every string in the fields, with `[redacted:NAME]`. A field whose *key* is
sensitive (password, token, secret, api_key, authorization, ...) loses its whole value.
The logger name is left alone. (Per-sink member ids and usernames: `privacy.py`.)

The redactor is pure: it reads nothing, never mutates the event it is given (one event
can go to several sinks), and returns the very same event when there is nothing to
change. Redaction is built for the ingest hot path: a string is first checked for the
cheap substrings every pattern needs ("webhooks/", "eyJ", "token", ...) and only the
patterns so triggered run, as one precompiled regex, in one pass. Every built-in pattern
runs in linear time (no nested quantifiers that can match the same text two ways), so a
hostile 1 MB line costs milliseconds, not hours.

Configuration (`parse_redact` reads `[redact]`; problems raise
`RedactConfigError(key, problem)` with `key` relative to that table):

    [redact]
    # enabled = true
    # builtins = [...]           # default: every built-in but email, ipv4, ipv6
    disable = ["jwt"]            # built-ins to drop, by name
    emails = false               # true adds "email"
    ips = false                  # true adds "ipv4" and "ipv6"
    # sensitive_keys = [...]     # replaces DEFAULT_SENSITIVE_KEYS
    extra_sensitive_keys = ["session_id"]
    [redact.patterns]
    stripe = "sk_live_[A-Za-z0-9]{24}"
    internal = { regex = "corp-(?P<secret>[0-9a-f]{32})", triggers = ["corp-"] }

This module also holds what per-sink privacy shares with it: the config error, reading a
table's keys, key names in snake case, and the event copy.

>>> redactor = Redactor()
>>> redactor.redact_text("login with token=hunter22 failed")
'login with token=[redacted:secret_value] failed'
>>> redactor.counts
{'secret_value': 1}
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Final

from logship.errors import ConfigError
from logship.event import Event

__all__ = [
    "BUILTINS",
    "DEFAULT_BUILTINS",
    "DEFAULT_SENSITIVE_KEYS",
    "MAX_DEPTH",
    "OPTIONAL_BUILTINS",
    "CustomPattern",
    "RedactConfig",
    "RedactConfigError",
    "Redactor",
    "parse_redact",
]

MAX_DEPTH: Final = 32
"""Fields nested deeper than this are replaced whole (`[redacted:too_deep]`)."""

CACHE_MAX = 8192  # clean short strings and key verdicts remembered (then forgotten at once)
CACHE_LEN = 256  # strings longer than this are never cached
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class RedactConfigError(ConfigError, ValueError):
    """A `[redact]` or `privacy` setting is wrong: `key` is relative to that table (the
    config places it: `within`).

    >>> str(RedactConfigError("patterns.x", "invalid regex"))
    'patterns.x: invalid regex'
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(None, key, problem)


# --------------------------------------------------------------------------- patterns


def _b64_digits(token: str) -> bool:
    """True when a bot token's first segment is base64 of a user id (its digits).

    >>> _b64_digits("MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.x"), _b64_digits("NotificationServiceImpl.a.b")
    (True, False)
    """
    head = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return 15 <= len(raw) <= 21 and raw.isdigit() and raw.isascii()


def _token_like(value: str) -> bool:
    """A bearer value looks random (a digit, a symbol, or inner capitals), not a word.

    >>> _token_like("abc123def"), _token_like("authentication"), _token_like("AbcDefGhi")
    (True, False, True)
    """
    if any(c.isdigit() or c in "._~+/-=" for c in value):
        return True
    return any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)


def _ipv4(text: str) -> bool:
    """Four octets of 0..255 (versions like 1.2.300.4 stay)."""
    return all(int(part) <= 255 for part in text.split("."))


def _ipv6(text: str) -> bool:
    """A real IPv6 address (times like 20:42:07 and MAC addresses stay)."""
    if len(text) < 3 or not any(c not in ":" for c in text):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


# A key/value pair's separator and value, shared by `secret_value` and `aws_secret_key`.
# Each alternative's variable part is followed by an optional delimiter or nothing, so a
# failed match never retries a run of characters a second way.
_SEP = r"""["']?[ \t]*(?:=>|[:=])[ \t]*"""
_VALUE = (
    r'(?:"(?!\[redacted:)(?P<secret>(?:[^"\\\n]|\\.)+)"?'
    r"|'(?!\[redacted:)(?P<secret2>(?:[^'\\\n]|\\.)+)'?"
    r"|(?i:bearer|basic|bot|token|digest)[ \t]+(?!\[redacted:)(?P<secret3>[^\s\"'&,;<>)\]}]+)"
    r"|(?!=|\[redacted:|(?i:bearer|basic|bot|token|digest)[ \t]+\[redacted:)"
    r"(?P<secret4>[^\s\"'&,;<>)\]}]+))"
)
_SECRET_KEYS = (
    r"(?i:pass(?:word|wd|phrase)|pwd|secret(?:[_-]?key)?|token|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|authorization)(?![A-Za-z0-9_-])"
)


@dataclass(frozen=True, slots=True)
class _Spec:
    """One pattern: its regex, the substrings it cannot match without, a final check.

    A group named `secret` (or `secret2`, ...) marks the part replaced; without one the
    whole match is. `lower` needles are looked for in the lowercased text, `exact`
    ones in the text as is; no needle at all means "always try".
    """

    name: str
    regex: str
    lower: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    min_length: int = 1  # no match is shorter: a shorter string skips this pattern
    check: Callable[[str], bool] | None = None
    alnum: bool = False  # can match a string of letters and digits only ("AKIA...")


_SPECS: Final[tuple[_Spec, ...]] = (
    _Spec(
        "private_key",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"[^-]*(?:-(?!----)[^-]*)*"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?",
        exact=("PRIVATE KEY",),
        min_length=27,
    ),
    _Spec(
        "discord_webhook",
        r"(?i:webhooks)/\d{15,21}/(?P<secret>[A-Za-z0-9_-]+)",
        lower=("webhooks/",),
        min_length=26,
    ),
    _Spec(
        "aws_secret_key",
        r"(?i:aws[_-]?secret[_-]?(?:access[_-]?)?key)(?![A-Za-z0-9_-])" + _SEP + _VALUE,
        lower=("secret",),
        min_length=16,
    ),
    _Spec(
        "secret_value",
        _SECRET_KEYS + _SEP + _VALUE,
        lower=("pass", "pwd", "secret", "token", "key", "authorization"),
        min_length=5,
    ),
    _Spec(
        "bearer_token",
        r"(?<![A-Za-z0-9])(?i:bearer)[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)",
        lower=("bearer",),
        min_length=15,
        check=_token_like,
    ),
    _Spec(
        "jwt",
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,3}",
        exact=("eyJ",),
        min_length=21,
    ),
    _Spec(
        "discord_token",
        r"(?<![A-Za-z0-9_-])[MNO][A-Za-z0-9_-]{19,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}",
        exact=(".",),
        min_length=55,
        check=_b64_digits,
    ),
    _Spec(
        "aws_access_key",
        r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        exact=("AKIA", "ASIA"),
        min_length=20,
        alnum=True,
    ),
    _Spec(
        "email",
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}"
        r"[A-Za-z]{2,24}(?![A-Za-z0-9-])",
        exact=("@",),
        min_length=6,
    ),
    _Spec(
        "ipv4",
        r"(?<![A-Za-z0-9_.])(?:\d{1,3}\.){3}\d{1,3}(?![A-Za-z0-9_]|\.\d)",
        exact=(".",),
        min_length=7,
        check=_ipv4,
    ),
    _Spec(
        "ipv6",
        r"(?<![A-Za-z0-9_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
        r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![A-Za-z0-9_:.])",
        exact=(":",),
        min_length=3,
        check=_ipv6,
    ),
)

BUILTINS: Final[tuple[str, ...]] = tuple(spec.name for spec in _SPECS)
"""Every built-in pattern name, in the order they are tried at one position."""
OPTIONAL_BUILTINS: Final[tuple[str, ...]] = ("email", "ipv4", "ipv6")
"""Built-ins that are off unless asked for (`emails = true`, `ips = true`)."""
DEFAULT_BUILTINS: Final[tuple[str, ...]] = tuple(
    name for name in BUILTINS if name not in OPTIONAL_BUILTINS
)
DEFAULT_SENSITIVE_KEYS: Final[tuple[str, ...]] = (
    "password", "passwd", "pwd", "passphrase", "secret", "token", "api_key", "apikey",
    "access_key", "secret_key", "private_key", "authorization", "auth", "cookie",
    "credentials", "webhook_url",
)
"""Field keys whose whole value is replaced. A key matches when its last dotted part, in
snake case (`X-Api-Key` is `x_api_key`, `clientSecret` is `client_secret`), equals one
of these or ends with '_' + one of these (or, for names of five letters or more, simply
ends with it: `csrftoken`)."""

_SPEC_BY_NAME: Final[dict[str, _Spec]] = {spec.name: spec for spec in _SPECS}
_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>")
_GROUP_REF = re.compile(r"\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)")
_NUMBERED_REF = re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]|\(\?\(\d")
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class CustomPattern:
    """A user's pattern: its name, regex and optional trigger substrings.

    `triggers` (lowercase) make it cheap: the regex only runs on a string containing one
    of them (case-insensitively). Without triggers it runs on every string. A group
    named `secret` marks the part to replace; otherwise the whole match is replaced.
    """

    name: str
    regex: str
    triggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RedactConfig:
    """What the `Redactor` removes. `active` is the resolved list of built-ins.

    >>> RedactConfig(ips=True).active[-2:]
    ('ipv4', 'ipv6')
    """

    builtins: tuple[str, ...] = DEFAULT_BUILTINS
    patterns: tuple[CustomPattern, ...] = ()
    emails: bool = False
    ips: bool = False
    sensitive_keys: tuple[str, ...] = DEFAULT_SENSITIVE_KEYS
    enabled: bool = True

    @property
    def active(self) -> tuple[str, ...]:
        """The built-in patterns in use, in trial order."""
        wanted = set(self.builtins)
        if self.emails:
            wanted.add("email")
        if self.ips:
            wanted.update(("ipv4", "ipv6"))
        return tuple(name for name in BUILTINS if name in wanted)


def parse_redact(table: Mapping[str, Any]) -> RedactConfig:
    """The `[redact]` table as a `RedactConfig`; a problem raises `RedactConfigError`.

    >>> config = parse_redact({"disable": ["jwt"], "emails": True,
    ...                        "patterns": {"stripe": "sk_live_[A-Za-z0-9]{24}"}})
    >>> "jwt" in config.active, "email" in config.active, config.patterns[0].name
    (False, True, 'stripe')
    >>> parse_redact({"disable": ["jwts"]})
    Traceback (most recent call last):
    ...
    logship.redact.secrets.RedactConfigError: disable: unknown built-in pattern 'jwts' (known: ...)
    """
    known = {"enabled", "builtins", "disable", "patterns", "emails", "ips", "sensitive_keys",
             "extra_sensitive_keys"}
    no_unknown_keys(table, known)
    builtins = _names(table, "builtins", DEFAULT_BUILTINS)
    disabled = set(_names(table, "disable", ()))
    keys = string_list(table, "sensitive_keys", DEFAULT_SENSITIVE_KEYS)
    extra = string_list(table, "extra_sensitive_keys", ())
    patterns = _custom_patterns(table.get("patterns", {}))
    return RedactConfig(
        builtins=tuple(name for name in builtins if name not in disabled),
        patterns=patterns,
        emails=_bool(table, "emails", False) and "email" not in disabled,
        ips=_bool(table, "ips", False) and not {"ipv4", "ipv6"} <= disabled,
        sensitive_keys=tuple(dict.fromkeys(normal_key(k) for k in keys + extra)),
        enabled=_bool(table, "enabled", True),
    )


def no_unknown_keys(table: Mapping[str, Any], known: set[str]) -> None:
    if not isinstance(table, Mapping):
        raise RedactConfigError("", "must be a table")
    for key in table:
        if key not in known:
            raise RedactConfigError(key, f"unknown key (expected one of: "
                                         f"{', '.join(sorted(known))})")


def _bool(table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise RedactConfigError(key, f"must be true or false, not {type(value).__name__}")
    return value


def string_list(table: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RedactConfigError(key, "must be a list of strings")
    return tuple(value)


def _names(table: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    names = string_list(table, key, default)
    for name in names:
        if name not in _SPEC_BY_NAME:
            raise RedactConfigError(
                key, f"unknown built-in pattern {name!r} (known: {', '.join(BUILTINS)})")
    return names


def _custom_patterns(value: Any) -> tuple[CustomPattern, ...]:
    if not isinstance(value, Mapping):
        raise RedactConfigError("patterns", "must be a table of name = \"regex\"")
    out = []
    for name, spec in value.items():
        key = f"patterns.{name}"
        if not _NAME.match(name):
            raise RedactConfigError(key, "a pattern name may use letters, digits, '_', '-', '.'")
        if name in _SPEC_BY_NAME:
            raise RedactConfigError(key, "is a built-in pattern's name; choose another")
        if isinstance(spec, str):
            spec = {"regex": spec}
        if not isinstance(spec, Mapping):
            raise RedactConfigError(key, "must be a regex string or a table {regex, triggers}")
        _no_unknown_at(spec, key, {"regex", "triggers"})
        regex = spec.get("regex")
        if not isinstance(regex, str):
            raise RedactConfigError(f"{key}.regex", "must be a regex string")
        try:
            triggers = string_list(spec, "triggers", ())
        except RedactConfigError as exc:
            raise RedactConfigError(f"{key}.triggers", exc.problem) from None
        out.append(CustomPattern(name, regex, tuple(t.lower() for t in triggers if t)))
        compile_pattern(out[-1], key)
    return tuple(out)


def _no_unknown_at(table: Mapping[str, Any], where: str, known: set[str]) -> None:
    try:
        no_unknown_keys(table, known)
    except RedactConfigError as exc:
        raise RedactConfigError(f"{where}.{exc.key}", exc.problem) from None


def compile_pattern(pattern: CustomPattern, key: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern.regex)
    except re.error as exc:
        raise RedactConfigError(key, f"invalid regex: {exc}") from None
    if compiled.fullmatch(""):
        raise RedactConfigError(key, "the regex matches the empty string")
    return compiled


# --------------------------------------------------------------------------- redactor


_Rule = tuple[str, tuple[int, ...], Callable[[str], bool] | None]  # name, secret groups, check


class _Combined:
    """One alternation of several patterns, and the function that replaces a match."""

    __slots__ = ("regex", "replace")

    def __init__(self, parts: list[tuple[int, str, _Rule]],
                 apply: Callable[[re.Match[str], _Rule], str]) -> None:
        self.regex = re.compile("|".join(f"(?P<_{i}>{body})" for i, body, _ in parts))
        index = self.regex.groupindex
        rules: dict[int, _Rule] = {}
        for i, _, (name, _none, check) in parts:
            secrets = tuple(n for group, n in index.items() if group.startswith(f"_{i}_secret"))
            rules[index[f"_{i}"]] = (name, secrets, check)
        self.replace: Callable[[re.Match[str]], str] = (
            lambda match: apply(match, rules[match.lastindex or 0]))


@dataclass(frozen=True, slots=True)
class _Triggers:
    """Which patterns a text may match, judged by substrings and length alone."""

    always: int  # patterns without trigger substrings: always tried
    lower: tuple[tuple[str, int], ...]  # (substring of the lowercased text, patterns)
    exact: tuple[tuple[str, int], ...]  # (substring of the text as is, patterns)
    lengths: tuple[tuple[int, int], ...]  # (shortest match, pattern)

    @classmethod
    def of(cls, always: int, lower: dict[str, int], exact: dict[str, int],
           lengths: list[tuple[int, int]], keep: int) -> _Triggers:
        """The triggers of the patterns in the bit mask `keep` only."""
        return cls(
            always & keep,
            tuple((needle, bits & keep) for needle, bits in lower.items() if bits & keep),
            tuple((needle, bits & keep) for needle, bits in exact.items() if bits & keep),
            tuple((n, bit) for n, bit in lengths if bit & keep),
        )

    def mask(self, text: str) -> int:
        """The patterns whose trigger substrings occur in `text`, as a bit mask."""
        mask = self.always
        if self.lower:
            low = text.lower()
            for needle, bits in self.lower:
                if needle in low:
                    mask |= bits
        for needle, bits in self.exact:
            if needle in text:
                mask |= bits
        if mask:
            size = len(text)
            for min_length, bit in self.lengths:
                if size < min_length:
                    mask &= ~bit
        return mask


def _prefixed(regex: str, i: int) -> str:
    """`regex` with its named groups renamed `_{i}_NAME`, so alternatives cannot clash."""
    regex = _GROUP.sub(lambda m: f"(?P<_{i}_{m.group(1)}>", regex)
    regex = _GROUP_REF.sub(lambda m: f"(?P=_{i}_{m.group(1)})", regex)
    flags = _GLOBAL_FLAGS.match(regex)
    if flags:  # a leading (?i) applies to this alternative only
        regex = f"(?{flags.group(1)}:{regex[flags.end():]})"
    return f"(?:{regex})"


class Redactor:
    """Replaces secrets in events and text; counts what it replaced, per pattern.

    >>> from logship.event import Level
    >>> event = Event(ts=None, level=Level.ERROR, message="POST failed",
    ...               fields={"url": "https://discord.com/api/webhooks/123456789012345678/"
    ...                              "abcDEF123_-xyz", "api_key": "k-42", "n": 3})
    >>> clean = Redactor().redact_event(event)
    >>> clean.fields["url"], clean.fields["api_key"], clean.fields["n"]
    ('https://discord.com/api/webhooks/123456789012345678/[redacted:discord_webhook]', \
'[redacted:sensitive_key]', 3)
    >>> event.fields["api_key"]  # the caller's event is untouched
    'k-42'
    """

    def __init__(self, config: RedactConfig | None = None) -> None:
        self.config = config = config or RedactConfig()
        self._counts: dict[str, int] = dict.fromkeys(
            (*config.active, *(p.name for p in config.patterns)), 0)
        self._keys = frozenset(normal_key(k) for k in config.sensitive_keys)
        self._key_cache: dict[Any, bool] = {}
        self._clean: set[str] = set()
        self._regexes: dict[int, _Combined] = {}
        self._parts: list[tuple[int, str, _Rule]] = []
        self._separate: list[tuple[re.Pattern[str], _Rule, tuple[str, ...]]] = []
        self._always = 0
        self._alnum = 0  # the patterns that can match a string of letters and digits only
        self._triggers = _Triggers(0, (), (), ())  # when to try each pattern
        self._alnum_triggers = self._triggers  # the same, for letters-and-digits strings
        self._shortest = 1 << 62  # strings shorter than any possible match are skipped
        if config.enabled:
            self._build(config)

    @property
    def counts(self) -> dict[str, int]:
        """Redactions so far per pattern name (plus `sensitive_key`, `too_deep`), non-zero."""
        return {name: n for name, n in self._counts.items() if n}

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a count can be kept under (for metrics to declare up front)."""
        return (*self.config.active, *(p.name for p in self.config.patterns), "sensitive_key",
                "too_deep")

    # ---- building

    def _build(self, config: RedactConfig) -> None:
        for name in config.builtins:
            if name not in _SPEC_BY_NAME:
                raise RedactConfigError("builtins", f"unknown built-in pattern {name!r}")
        lower: dict[str, int] = {}
        exact: dict[str, int] = {}
        lengths: list[tuple[int, int]] = []
        for spec in (_SPEC_BY_NAME[name] for name in config.active):
            bit = self._add(spec.name, spec.regex, spec.check)
            self._needles(bit, spec.lower, spec.exact, lower, exact)
            if spec.alnum:
                self._alnum |= bit
            self._shortest = min(self._shortest, spec.min_length)
            lengths.append((spec.min_length, bit))
        for custom in config.patterns:
            compiled = compile_pattern(custom, f"patterns.{custom.name}")
            self._shortest = 1
            if _separate(custom.regex, compiled):
                secrets = tuple(n for g, n in compiled.groupindex.items()
                                if g.startswith("secret"))
                self._separate.append((compiled, (custom.name, secrets, None), custom.triggers))
            else:
                bit = self._add(custom.name, custom.regex, None)
                self._needles(bit, custom.triggers, (), lower, exact)
                self._alnum |= bit
        lengths = [(n, bit) for n, bit in lengths if n > self._shortest]
        self._triggers = _Triggers.of(self._always, lower, exact, lengths, ~0)
        self._alnum_triggers = _Triggers.of(self._always, lower, exact, lengths, self._alnum)

    def _add(self, name: str, regex: str, check: Callable[[str], bool] | None) -> int:
        i = len(self._parts)
        self._parts.append((i, _prefixed(regex, i), (name, (), check)))
        return 1 << i

    def _needles(self, bit: int, lower: tuple[str, ...], exact: tuple[str, ...],
                 lower_bits: dict[str, int], exact_bits: dict[str, int]) -> None:
        for needle in lower:
            lower_bits[needle] = lower_bits.get(needle, 0) | bit
        for needle in exact:
            exact_bits[needle] = exact_bits.get(needle, 0) | bit
        if not lower and not exact:
            self._always |= bit

    # ---- text

    def redact_text(self, text: str) -> str:
        """`text` with every secret replaced (the same object when there is none).

        >>> Redactor().redact_text('{"password": "p@ss w0rd", "user": "bob"}')
        '{"password": "[redacted:secret_value]", "user": "bob"}'
        >>> Redactor().redact_text("password reset email sent")
        'password reset email sent'
        """
        if len(text) < self._shortest or text in self._clean:
            return text
        # ids, names, words: only a few patterns could match those, so fewer checks
        mask = (self._alnum_triggers if text.isalnum() else self._triggers).mask(text)
        out = text
        if mask:
            combined = self._regexes.get(mask) or self._combine(mask)
            out = combined.regex.sub(combined.replace, text)
        if self._separate:
            out = self._separately(out)
        if out == text:
            if len(text) <= CACHE_LEN:
                if len(self._clean) >= CACHE_MAX:
                    self._clean.clear()
                self._clean.add(text)
            return text
        return out

    def _combine(self, mask: int) -> _Combined:
        if len(self._regexes) >= 256:
            self._regexes.clear()
        parts = [part for part in self._parts if mask >> part[0] & 1]
        combined = self._regexes[mask] = _Combined(parts, self._apply)
        return combined

    def _separately(self, text: str) -> str:
        """Custom patterns that cannot join the alternation (numbered backreferences)."""
        low = text.lower()
        for compiled, rule, triggers in self._separate:
            if not triggers or any(t in low for t in triggers):
                text = compiled.sub(lambda m, r=rule: self._apply(m, r), text)  # type: ignore[misc]
        return text

    def _apply(self, match: re.Match[str], rule: _Rule) -> str:
        """The replacement for one match: its secret group(s), or all of it."""
        name, secrets, check = rule
        if match.end() == match.start():
            return ""  # a custom pattern that can match nothing: nothing to replace
        span = next((match.span(g) for g in secrets if match.start(g) >= 0), None)
        whole = match.group(0)
        found = whole if span is None else match.string[span[0]:span[1]]
        if check is not None and not check(found):
            return whole
        self._counts[name] = self._counts.get(name, 0) + 1
        if span is None:
            return f"[redacted:{name}]"
        base = match.start()
        return f"{whole[:span[0] - base]}[redacted:{name}]{whole[span[1] - base:]}"

    # ---- events

    def redact_event(self, event: Event) -> Event:
        """A copy of `event` without secrets, or `event` itself when it holds none.

        The message, the exception and every string in the fields (at any depth) are
        redacted; a field with a sensitive key loses its value. The logger is kept.
        """
        if not self.config.enabled:
            return event
        message = event.message
        if type(message) is str:
            message = self.redact_text(message)
        exception = event.exception
        if exception:
            exception = self.redact_text(exception)
        fields = event.fields
        if type(fields) is dict and fields:
            fields = self._dict(fields, 0) or fields
        if message is event.message and exception is event.exception and fields is event.fields:
            return event
        return event_with(event, message, exception, fields)

    def redact_value(self, value: Any) -> Any:
        """`value` (a string, list, dict or scalar) redacted; the same object if clean."""
        return self._value(value, 0)

    def _dict(self, fields: dict[Any, Any], depth: int) -> dict[Any, Any] | None:
        """A redacted copy of `fields`, or None when nothing in it needs redacting."""
        out: dict[Any, Any] | None = None
        keys, clean, shortest = self._key_cache, self._clean, self._shortest
        text = self.redact_text
        for key, value in fields.items():
            sensitive = keys.get(key)
            if sensitive is None:
                sensitive = self._sensitive(key)
            if sensitive:
                new = self._hide(value)
            elif type(value) is str:
                if value in clean or len(value) < shortest:  # the common case, inlined
                    continue
                new = text(value)
            elif value is None or type(value) in SCALARS:
                continue
            else:
                new = self._value(value, depth)
            if new is not value:
                if out is None:
                    out = dict(fields)
                out[key] = new
        return out

    def _value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.redact_text(value)
        if kind is not dict and kind is not list and kind is not tuple:
            return value
        if depth >= MAX_DEPTH:
            self._counts["too_deep"] = self._counts.get("too_deep", 0) + 1
            return "[redacted:too_deep]"
        if kind is dict:
            return self._dict(value, depth + 1) or value
        items = [self._value(item, depth + 1) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if kind is list else tuple(items)

    def _hide(self, value: Any) -> Any:
        """A sensitive key's value: gone, unless there is nothing to hide (None, bool, "")."""
        if value is None or value is True or value is False or value == "":
            return value
        if value == _HIDDEN:
            return value
        self._counts["sensitive_key"] = self._counts.get("sensitive_key", 0) + 1
        return _HIDDEN

    def _sensitive(self, key: Any) -> bool:
        verdict = _key_matches(str(key), self._keys)
        if type(key) is str and len(key) <= CACHE_LEN:
            if len(self._key_cache) >= CACHE_MAX:
                self._key_cache.clear()
            self._key_cache[key] = verdict
        return verdict


_HIDDEN: Final = "[redacted:sensitive_key]"
SCALARS: Final = frozenset({int, float, bool})
_EVENT_FIELDS: Final = tuple(f.name for f in fields(Event))
_event_values = attrgetter(*_EVENT_FIELDS)
_MESSAGE, _EXCEPTION, _FIELDS = (_EVENT_FIELDS.index(n) for n in ("message", "exception",
                                                                  "fields"))


def event_with(event: Event, message: str, exception: str | None, fields: dict[str, Any]) -> Event:
    """A shallow copy of `event` (same ack) with these three attributes."""
    values = list(_event_values(event))
    values[_MESSAGE], values[_EXCEPTION], values[_FIELDS] = message, exception, fields
    return Event(*values)


def _separate(regex: str, compiled: re.Pattern[str]) -> bool:
    """True when a custom regex cannot join the alternation (numbered backreferences,
    flags that cannot be scoped): it then runs on its own."""
    if compiled.groups and _NUMBERED_REF.search(regex):
        return True
    try:
        re.compile(_prefixed(regex, 0))
    except re.error:
        return True
    return False


def normal_key(key: str) -> str:
    """The last dotted part of a field key in snake case: lowercase, '_' between words.

    >>> normal_key("context.X-Api-Key"), normal_key("memberId"), normal_key("user.ID")
    ('x_api_key', 'member_id', 'id')
    """
    return _CAMEL.sub("_", key.rsplit(".", 1)[-1]).lower().replace("-", "_")


def _key_matches(key: str, names: frozenset[str]) -> bool:
    """True when `key` names one of `names` (see DEFAULT_SENSITIVE_KEYS for the rule).

    >>> keys = frozenset(DEFAULT_SENSITIVE_KEYS)
    >>> [_key_matches(k, keys) for k in ("db_password", "clientSecret", "max_tokens", "oauth")]
    [True, True, False, False]
    """
    last = normal_key(key)
    if last in names:
        return True
    return any(
        last.endswith("_" + name) or (len(name) >= 5 and last.endswith(name)) for name in names
    )
