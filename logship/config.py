"""TOML configuration, validated into frozen dataclasses.

Every problem is a `ConfigError` that names the file, the dotted key and what is wrong,
so `logship check` can print one line a user can act on:

    config.toml: routes[0].sinks: unknown sink 'erors' (known: errors, members)

Strings may use `${NAME}` (or `${NAME:-default}`) to read the environment; a sink's URL
may come from `url_file` instead (systemd credentials). Relative paths are taken from the
config file's folder.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logship.errors import ConfigError
from logship.event import Level
from logship.redact import (
    Privacy,
    RedactConfig,
    RedactConfigError,
    parse_privacy,
    parse_redact,
)
from logship.sinks import registry

__all__ = ["ClusterConfig", "Config", "ConfigError", "DaemonConfig", "Reader", "RouteConfig",
           "SinkConfig", "SourceConfig", "SpoolConfig", "find_config", "load_config",
           "locate_config",
           "parse_config"]

DEFAULT_LOCATIONS = (Path("config.toml"), Path("/etc/logship/config.toml"))
FORMATS = ("auto", "json", "tree", "text")
START_AT = ("end", "beginning")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class DaemonConfig:
    state_dir: Path
    spool_dir: Path
    drain_timeout: float = 10.0
    checkpoint_interval: float = 1.0
    metrics_listen: str | None = None
    history_max_bytes: int = 16 << 20  # the delivery history rotates at this size
    history_keep: int = 3  # rotated history files kept


@dataclass(frozen=True)
class SpoolConfig:
    max_bytes: int | None = None  # past this, reading pauses (the source files buffer)
    segment_bytes: int = 8 << 20  # a segment rolls (and is fsynced) at this size
    # False: records keep the raw event (secrets included); payloads are redacted anyway
    redact: bool = True


@dataclass(frozen=True)
class ClusterConfig:
    """`[cluster]`: many hosts sharing Discord's budgets and noise windows on Redis.
    `redis` is a secret (it may hold a password): `masked_redis` is what is shown."""

    redis: str
    name: str = "logship"  # the key namespace: several bots may share one Redis
    host: str = ""  # this sidecar's name in messages ("on 3 hosts"); "" = the hostname
    fallback_share: float = 1 / 3  # of the limits each host keeps while Redis is down

    @property
    def masked_redis(self) -> str:
        """The Redis URL without its password: `redis://:****@host:6379/0`."""
        return _mask_password(self.redis)


MAX_EVENT_BYTES = 1 << 20
"""A source's `max_event_bytes` unless it says otherwise: one event's text and fields."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    paths: tuple[str, ...]
    format: str = "auto"
    start_at: str = "end"  # for the files of a source never seen before; new files: beginning
    exclude: tuple[str, ...] = ()
    max_line_bytes: int = 65536
    max_event_bytes: int = MAX_EVENT_BYTES  # longer is cut, and marked
    idle_flush: float = 0.25  # seconds before a held record (a traceback may follow) goes out


@dataclass(frozen=True)
class SinkConfig:
    """A `[sinks.NAME]` table: what the worker needs of every sink (its queue, retries,
    circuit, storm mode, and the privacy of what it shows), and `options`, the sink
    type's own (`DiscordOptions`, `FileOptions`), validated by that type."""

    name: str
    options: Any = field(default=None, compare=True)
    type: str = "discord"
    queue_size: int = 1000
    queue_max_bytes: int = 32 << 20  # events waiting (and in flight) for this sink
    retry_base: float = 0.5
    retry_cap: float = 30.0
    max_attempts: int = 6  # then the batch goes to the spool as `fallback`
    circuit_failures: int = 5  # consecutive failed requests that open the circuit
    circuit_cooldown: float = 30.0  # seconds the circuit stays open before a probe
    storm_after: float = 60.0  # seconds of a full queue before storm mode (summaries)
    storm_every: float = 30.0  # seconds between storm summaries
    privacy: Privacy | None = field(default=None, compare=False)  # ids and names, per sink


SINK_COMMON = {  # the worker's options of every sink type, with their minimum
    "queue_size": 1, "queue_max_bytes": 65536, "retry_base": 0.0, "retry_cap": 0.0,
    "max_attempts": 1, "circuit_failures": 1, "circuit_cooldown": 0.1, "storm_after": 0.1,
    "storm_every": 0.1,
}


@dataclass(frozen=True)
class RouteConfig:
    name: str
    sinks: tuple[str, ...]
    min_level: Level = Level.DEBUG
    sources: tuple[str, ...] = ()  # empty: every source
    match: Mapping[str, str] = field(default_factory=dict)  # field -> regex (search)
    template: str | None = None
    dedupe_window: float | None = None  # seconds: repeats of an error are counted, not sent
    mention: tuple[str, ...] = ()  # "<@&ROLE_ID>" / "<@USER_ID>": the only pings allowed


@dataclass(frozen=True)
class Config:
    path: Path
    daemon: DaemonConfig
    sources: tuple[SourceConfig, ...]
    sinks: Mapping[str, SinkConfig]
    routes: tuple[RouteConfig, ...]
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    redact: RedactConfig = field(default_factory=RedactConfig)
    templates_dir: Path | None = None
    # [templates.NAME] tables as written (a sink type that renders with them compiles them)
    templates: Mapping[str, Any] = field(default_factory=dict)
    cluster: ClusterConfig | None = None  # [cluster]: None, this host works alone

    def max_event_bytes(self, source: str) -> int:
        """The `max_event_bytes` of the source named `source` (the default for a name
        no longer configured, as an event read before a reload may carry)."""
        return next((s.max_event_bytes for s in self.sources if s.name == source),
                    MAX_EVENT_BYTES)


def find_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The config file to use: `--config`, else `$LOGSHIP_CONFIG`, else ./config.toml, else /etc.

    Returns the first candidate that exists, or the most specific one given (so the
    error message names what the user asked for).
    """
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get("LOGSHIP_CONFIG"):
        return Path(env["LOGSHIP_CONFIG"])
    for candidate in DEFAULT_LOCATIONS:
        if candidate.exists():
            return candidate
    return DEFAULT_LOCATIONS[0]


START_HINT = ("to start: `logship init FOLDER` writes a commented config.toml for the logs "
              "it finds in FOLDER (your bot's folder); config.example.toml documents every "
              "option; then `logship check`")


def locate_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """`find_config`'s answer when that file is there; else a `ConfigError` that says
    who named the missing file (`--config`, `$LOGSHIP_CONFIG`), or where logship looked
    when nobody did, and how to start."""
    env = os.environ if env is None else env
    path = find_config(explicit, env)
    if os.path.lexists(path):
        return path
    if explicit is not None:
        raise ConfigError(path, "", f"no such file (given with --config); {START_HINT}")
    if env.get("LOGSHIP_CONFIG"):
        raise ConfigError(path, "", f"no such file (named by $LOGSHIP_CONFIG); {START_HINT}")
    local, system = DEFAULT_LOCATIONS
    raise ConfigError(None, "", "\n  ".join([
        "no config file found; looked for:",
        "--config PATH (not given)",
        "$LOGSHIP_CONFIG (not set)",
        f"./{local} ({Path.cwd() / local}: no such file)",
        f"{system} (no such file)",
    ]) + f"\n{START_HINT[0].upper()}{START_HINT[1:]}.")


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text (TOML must be): {_bad_bytes(exc)}"
                          ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"TOML syntax error: {exc}") from None
    return parse_config(data, path, os.environ if env is None else env)


def parse_config(data: Mapping[str, Any], path: Path, env: Mapping[str, str]) -> Config:
    """Validate already-decoded TOML `data` (pure apart from reading `url_file`s)."""
    reader = Reader(path, env)
    reader.no_unknown(data, "", {"daemon", "spool", "redact", "sources", "sinks", "routes",
                                 "templates", "templates_dir", "cluster"})
    daemon = _daemon(reader, reader.table(data, "daemon", "daemon"))
    spool = _spool(reader, reader.table(data, "spool", "spool"))
    sources = tuple(
        _source(reader, item, f"sources[{i}]")
        for i, item in enumerate(reader.array_of_tables(data, "sources", "sources"))
    )
    reader.unique([s.name for s in sources], "sources", "source")
    sinks_table = reader.table(data, "sinks", "sinks")
    sinks = {
        name: _sink(reader, name, reader.table(sinks_table, name, f"sinks.{name}"))
        for name in sinks_table
    }
    routes = tuple(
        _route(reader, item, f"routes[{i}]", sinks, sources)
        for i, item in enumerate(reader.array_of_tables(data, "routes", "routes"))
    )
    reader.unique([r.name for r in routes], "routes", "route")
    config = Config(path=path, daemon=daemon, sources=sources, sinks=sinks, routes=routes,
                    spool=spool, templates_dir=_templates_dir(reader, data),
                    templates=reader.table(data, "templates", "templates"),
                    redact=_redact(reader, reader.table(data, "redact", "redact")),
                    cluster=_cluster(reader, data))
    for name in registry.names():  # each type checks what is its (a route's template)
        registry.sink_type(name).check(config)
    return config


def _cluster(r: Reader, data: Mapping[str, Any]) -> ClusterConfig | None:
    """`[cluster]`, when there is one: `redis` (or `redis_file`), `name`, `host`,
    `fallback_share`."""
    if "cluster" not in data:
        return None
    t = r.table(data, "cluster", "cluster")
    r.no_unknown(t, "cluster", {"redis", "redis_file", "name", "host", "fallback_share"})
    if ("redis" in t) == ("redis_file" in t):
        raise r.fail("cluster", "set exactly one of 'redis' or 'redis_file'")
    which = "redis" if "redis" in t else "redis_file"
    url = (r.string(t, "redis", "cluster", default=None) if which == "redis"
           else r.secret_file(t, "redis_file", "cluster"))
    assert url is not None
    problem = _redis_url_problem(url)
    if problem:
        raise r.fail(f"cluster.{which}", f"{problem}: {_mask_password(url)!r}")
    name = r.string(t, "name", "cluster", default="logship")
    if not _NAME.match(name):
        raise r.fail("cluster.name", "may use letters, digits, '_', '-' and '.'")
    share = r.number(t, "fallback_share", "cluster", 1 / 3, minimum=0.01)
    if share > 1:
        raise r.fail("cluster.fallback_share", "must be at most 1 (a share of the limits)")
    return ClusterConfig(redis=url, name=name, host=r.string(t, "host", "cluster", default=""),
                         fallback_share=float(share))


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url_problem(url: str) -> str | None:
    """Why `url` is no Redis URL, or None."""
    if not url.startswith(_REDIS_SCHEMES):
        return "not a Redis URL (redis://host:6379/0, rediss://…, unix:///path)"
    return None


def _mask_password(url: str) -> str:
    """A URL with its password (user info) masked.

    >>> _mask_password("redis://:s3cret@127.0.0.1:6379/0")
    'redis://****@127.0.0.1:6379/0'
    >>> _mask_password("redis://127.0.0.1:6379")
    'redis://127.0.0.1:6379'
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    return f"{scheme}://****@{rest.split('@', 1)[1]}"


def _redact(r: Reader, t: Mapping[str, Any]) -> RedactConfig:
    try:
        return parse_redact(t)
    except RedactConfigError as exc:
        raise exc.within(r.file, "redact") from None


def _privacy(r: Reader, t: Mapping[str, Any], key: str) -> Privacy | None:
    """A sink's `privacy` table, its secret read now (a credential file, say)."""
    table = r.table(t, "privacy", key)
    if not table:
        return None
    try:
        config = parse_privacy(table)
        secret = config.secret.encode() if config.secret else None
        if config.secret_file:
            path = r.path(config.secret_file)
            try:
                secret = path.read_bytes().strip()
            except OSError as exc:
                raise ConfigError(r.file, f"{key}.privacy.secret_file",
                                  f"cannot read {path}: {exc.strerror or exc}") from None
        return Privacy(config, secret)
    except RedactConfigError as exc:
        raise exc.within(r.file, f"{key}.privacy") from None


def _spool(r: Reader, t: Mapping[str, Any]) -> SpoolConfig:
    r.no_unknown(t, "spool", {"max_bytes", "segment_bytes", "redact"})
    max_bytes = t.get("max_bytes")
    return SpoolConfig(
        max_bytes=None if max_bytes is None else int(
            r.number(t, "max_bytes", "spool", 0, minimum=4096)),
        segment_bytes=int(r.number(t, "segment_bytes", "spool", 8 << 20, minimum=4096)),
        redact=r.boolean(t, "redact", "spool", True),
    )


def _daemon(r: Reader, t: Mapping[str, Any]) -> DaemonConfig:
    r.no_unknown(t, "daemon", {"state_dir", "spool_dir", "drain_timeout",
                               "checkpoint_interval", "metrics_listen", "history_max_bytes",
                               "history_keep"})
    state_dir = r.path(r.string(t, "state_dir", "daemon", default="/var/lib/logship"))
    spool = r.string(t, "spool_dir", "daemon", default=None)
    return DaemonConfig(
        state_dir=state_dir,
        spool_dir=r.path(spool) if spool else state_dir / "spool",
        drain_timeout=r.number(t, "drain_timeout", "daemon", 10.0, minimum=0.0),
        checkpoint_interval=r.number(t, "checkpoint_interval", "daemon", 1.0, minimum=0.05),
        metrics_listen=r.string(t, "metrics_listen", "daemon", default=None),
        history_max_bytes=int(r.number(t, "history_max_bytes", "daemon", 16 << 20,
                                       minimum=4096)),
        history_keep=int(r.number(t, "history_keep", "daemon", 3, minimum=0)),
    )


def _source(r: Reader, t: Mapping[str, Any], key: str) -> SourceConfig:
    r.no_unknown(t, key, {"name", "paths", "format", "start_at", "exclude", "max_line_bytes",
                           "max_event_bytes", "idle_flush"})
    paths = r.strings(t, "paths", key, required=True)
    if not paths:
        raise ConfigError(r.file, f"{key}.paths", "needs at least one path or glob")
    return SourceConfig(
        name=r.name(t, key),
        paths=tuple(str(r.path(p)) for p in paths),
        format=r.choice(t, "format", key, FORMATS, "auto"),
        start_at=r.choice(t, "start_at", key, START_AT, "end"),
        exclude=tuple(r.exclude_pattern(p) for p in r.strings(t, "exclude", key)),
        max_line_bytes=int(r.number(t, "max_line_bytes", key, 65536, minimum=256)),
        max_event_bytes=int(r.number(t, "max_event_bytes", key, MAX_EVENT_BYTES,
                                     minimum=4096)),
        idle_flush=r.number(t, "idle_flush", key, 0.25, minimum=0.05),
    )


def _sink(r: Reader, name: str, t: Mapping[str, Any]) -> SinkConfig:
    """The worker's options here; the rest of the table is the sink type's to judge."""
    key = f"sinks.{name}"
    if not _NAME.match(name):
        raise ConfigError(r.file, key, "a sink name may use letters, digits, '_', '-' and '.'")
    kind = r.choice(t, "type", key, registry.names(), "discord")
    sink_type = registry.sink_type(kind)
    r.no_unknown(t, key, {"type", "privacy", *SINK_COMMON, *sink_type.keys})
    defaults = SinkConfig(name=name)
    values = {
        option: type(getattr(defaults, option))(
            r.number(t, option, key, getattr(defaults, option), minimum=minimum))
        for option, minimum in SINK_COMMON.items()
    }
    own = {k: v for k, v in t.items() if k in sink_type.keys}
    return SinkConfig(name=name, type=kind, options=sink_type.parse_options(r, own, key),
                      privacy=_privacy(r, t, key), **values)


def _duration(r: Reader, t: Mapping[str, Any], name: str, key: str) -> float | None:
    """A duration: seconds as a number, or text like "90s", "5m", "1h"."""
    value = t.get(name)
    if value is None:
        return None
    if (isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            and math.isfinite(value)):
        return float(value)
    units = {"s": 1, "m": 60, "h": 3600}
    if isinstance(value, str) and _DIGITS.match(value[:-1]) and value[-1:] in units:
        return float(int(value[:-1]) * units[value[-1]])
    raise ConfigError(r.file, f"{key}.{name}", f"not a duration: {value!r} (say 30s, 5m, 1h)")


_DIGITS = re.compile(r"^[0-9]+$")  # ASCII only: str.isdigit() takes "²", int() does not


def _bad_bytes(exc: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8, for the error message."""
    return f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"


def _route(
    r: Reader, t: Mapping[str, Any], key: str, sinks: Mapping[str, SinkConfig],
    sources: tuple[SourceConfig, ...],
) -> RouteConfig:
    r.no_unknown(t, key, {"name", "sinks", "min_level", "sources", "match", "template",
                          "dedupe_window", "mention"})
    route_sinks = r.strings(t, "sinks", key, required=True)
    if not route_sinks:
        raise ConfigError(r.file, f"{key}.sinks", "needs at least one sink")
    for sink in route_sinks:
        if sink not in sinks:
            known = ", ".join(sorted(sinks)) or "none defined"
            raise ConfigError(r.file, f"{key}.sinks", f"unknown sink {sink!r} (known: {known})")
    route_sources = r.strings(t, "sources", key)
    source_names = {s.name for s in sources}
    for source in route_sources:
        if source not in source_names:
            known = ", ".join(sorted(source_names)) or "none defined"
            raise ConfigError(r.file, f"{key}.sources",
                              f"unknown source {source!r} (known: {known})")
    level_name = r.string(t, "min_level", key, default="debug")
    level = Level.__members__.get(level_name.upper())
    if level is None:
        choices = ", ".join(name.lower() for name in Level.__members__)
        raise ConfigError(r.file, f"{key}.min_level",
                          f"unknown level {level_name!r} (one of: {choices})")
    match = r.table(t, "match", key)
    patterns: dict[str, str] = {}
    for field_name, pattern in match.items():
        if not isinstance(pattern, str):
            raise ConfigError(r.file, f"{key}.match.{field_name}", "must be a regex string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(r.file, f"{key}.match.{field_name}",
                              f"invalid regex: {exc}") from None
        patterns[field_name] = pattern
    return RouteConfig(
        name=r.name(t, key),
        sinks=tuple(route_sinks),
        min_level=level,
        dedupe_window=_duration(r, t, "dedupe_window", key),
        sources=tuple(route_sources),
        match=patterns,
        template=r.string(t, "template", key, default=None),
        mention=_mentions(r, t, key),
    )


_ROLE_MENTION = re.compile(r"^<@&([1-9][0-9]{0,19})>$")
_USER_MENTION = re.compile(r"^<@!?([1-9][0-9]{0,19})>$")


def _mentions(r: Reader, t: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A route's `mention`: role and user mentions only, normalised, at most 100 each."""
    found: dict[str, None] = {}
    for text in r.strings(t, "mention", key):
        if match := _ROLE_MENTION.match(text.strip()):
            found[f"<@&{match.group(1)}>"] = None
        elif match := _USER_MENTION.match(text.strip()):
            found[f"<@{match.group(1)}>"] = None
        else:
            raise ConfigError(r.file, f"{key}.mention",
                              f"{text!r} is not a role mention \"<@&ROLE_ID>\" or a user "
                              "mention \"<@USER_ID>\" (@everyone and @here are never allowed)")
    roles = sum(m.startswith("<@&") for m in found)
    if roles > 100 or len(found) - roles > 100:
        raise ConfigError(r.file, f"{key}.mention", "at most 100 roles and 100 users")
    return tuple(found)


def _templates_dir(r: Reader, data: Mapping[str, Any]) -> Path | None:
    """`templates_dir`: a folder of NAME.toml templates (compiled by the sink types that
    render with templates)."""
    directory = data.get("templates_dir")
    if directory is None:
        return None
    if not isinstance(directory, str):
        raise r.fail("templates_dir", f"must be a string, not {type(directory).__name__}")
    path = r.path(r.expand(directory, "templates_dir"))
    if not path.is_dir():
        raise r.fail("templates_dir", f"{path} is not a folder")
    return path


class Reader:
    """Typed access to TOML tables that reports problems with file and key; sink types
    read their options with it."""

    def __init__(self, file: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def no_unknown(self, t: Mapping[str, Any], key: str, known: set[str]) -> None:
        for name in t:
            if name not in known:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key (expected one of: {', '.join(sorted(known))})")

    def table(self, t: Mapping[str, Any], name: str, key: str) -> Mapping[str, Any]:
        value = t.get(name, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return value

    def array_of_tables(self, t: Mapping[str, Any], name: str, key: str) -> list[Mapping[str, Any]]:
        value = t.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, f"must be an array of tables ([[{name}]])")
        return value

    def expand(self, text: str, key: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            raise self.fail(key, f"environment variable {name} is not set")

        return _ENV_REF.sub(substitute, text)

    def string(self, t: Mapping[str, Any], name: str, key: str, *, default: Any) -> Any:
        if name not in t:
            return default
        value = t[name]
        if not isinstance(value, str):
            raise self.fail(f"{key}.{name}", f"must be a string, not {type(value).__name__}")
        return self.expand(value, f"{key}.{name}")

    def strings(self, t: Mapping[str, Any], name: str, key: str, required: bool = False
                ) -> list[str]:
        if name not in t:
            if required:
                raise self.fail(f"{key}.{name}", "is required")
            return []
        value = t[name]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key}.{name}", "must be a list of strings")
        return [self.expand(v, f"{key}.{name}") for v in value]

    def boolean(self, t: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
        value = t.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, not {value!r}")
        return value

    def number(self, t: Mapping[str, Any], name: str, key: str, default: float,
               minimum: float) -> float:
        value = t.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key}.{name}", f"must be a number, not {type(value).__name__}")
        if not math.isfinite(value):
            raise self.fail(f"{key}.{name}", f"must be a finite number, not {value}")
        if value < minimum:
            raise self.fail(f"{key}.{name}", f"must be at least {minimum}")
        return value

    def choice(self, t: Mapping[str, Any], name: str, key: str, choices: tuple[str, ...],
               default: str) -> str:
        value = self.string(t, name, key, default=default)
        if value not in choices:
            raise self.fail(f"{key}.{name}", f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def name(self, t: Mapping[str, Any], key: str) -> str:
        value = self.string(t, "name", key, default=None)
        if value is None:
            raise self.fail(f"{key}.name", "is required")
        if not _NAME.match(value):
            raise self.fail(f"{key}.name", "may use letters, digits, '_', '-' and '.'")
        return value

    def unique(self, names: list[str], key: str, what: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise self.fail(key, f"two {what}s are named {name!r}")
            seen.add(name)

    def path(self, text: str) -> Path:
        """`text` as an absolute, normalised path: a relative one is taken from the
        config file's folder (itself made absolute: `--config config.toml` names the
        current folder), so a daemon's paths do not depend on where it was started."""
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.file.parent / path
        return Path(os.path.abspath(path))

    def secret_file(self, t: Mapping[str, Any], name: str, key: str) -> str | None:
        """The text of the file `t[name]` names (a credential: `url_file`, a systemd
        `LoadCredential=`), stripped; None when the key is not set."""
        location = self.string(t, name, key, default=None)
        if location is None:
            return None
        try:
            return self.path(location).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise self.fail(f"{key}.{name}",
                            f"cannot read {location}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise self.fail(f"{key}.{name}",
                            f"{location} is not UTF-8 text: {_bad_bytes(exc)}") from None

    def exclude_pattern(self, pattern: str) -> str:
        """An exclusion with a `/` names paths, so a relative one is taken from the
        config's folder like `paths`; a bare name (`*.gz`) or a `**/…` pattern matches
        at any depth and stays as written."""
        if "/" not in pattern or pattern.startswith("**"):
            return pattern
        return str(self.path(pattern))
