"""Custom embeds: Jinja2 templates, sandboxed, compiled once when the config is loaded.

A route names a template (`template = "NAME"`); the template describes the embed its
events get. Templates live in the config as `[templates.NAME]` tables, or in files
`NAME.toml` in the folder the top-level `templates_dir` key names (same keys, without
the table header). The built-in layouts are templates too, by their kind's name:
"error", "performance", "member", "status", "log" (a configured template of the same
name takes its place).

    [templates.oncall]
    extends = "error"            # another template, or a built-in layout
    title = "{{ level_emoji }} {{ fields.service or source }}: {{ first_line }}"
    description = '''
    {{ rest }}
    {% if exception and not attached %}{{ exception | codeblock(1500) }}{% endif %}'''
    color = "{{ 'critical' if levelno >= 50 else 'error' }}"    # or an integer
    footer = "{{ host }} · {{ source }}"
    # author = "…"; url = "https://…"; timestamp = true (the event's time)

    [[templates.oncall.fields]]
    name = "Guild"
    value = "{{ fields.guild_id }}"
    when = "fields.guild_id is defined"   # a Jinja expression; no field when false
    # inline = true                       # default: short one-line values side by side

Parts (`title`, `description`, `url`, `color`, `footer`, `author`) are Jinja templates;
`{% if %}` makes conditional sections, and a part that renders empty is left out.
`extends` inherits every part the template does not set (Jinja's own block
inheritance: a part may say `{{ super() }}` for its parent's); a part that no template
of the chain sets comes from the built-in layout (the one `extends` names at the root
of the chain, else the event's kind's), and so do the fields when no template of the
chain has `fields`. A template's `fields` replace its parent's, unless it says
`extend_fields = true` (then they come after the parent's).

Variables: `level` ("ERROR"), `levelno` (40), `level_emoji`, `level_color`, `message`,
`first_line`, `rest` (the message after its first line), `exception` (the traceback),
`exception_type`, `logger`, `source`, `path`, `kind`, `fields` (the event's fields),
`ts` (a datetime), `time` (ISO 8601, UTC), `host`, `route`, `sink`, `attached` (true
when the whole traceback is attached as a file), `default` (the built-in layout's embed:
`default.title`, `default.description`, `default.fields`, …). Filters: `head(n)` and
`tail(n)` (cut on line boundaries), `codeblock(n, lang="py")` (a closed code block that
keeps the last lines), `value` (a field value as text), `bar` (a ratio as a severity
bar), `discord_time(style="f")` (a Discord timestamp). Colours: an integer, "#RRGGBB",
"0xRRGGBB", a name (red, orange, amber, yellow, green, teal, blue, purple, pink, grey,
black, white) or a level name (debug … critical).

Templates run in Jinja's immutable sandbox: they read the event, nothing else, and
change nothing. Whatever they make is cut to Discord's limits (`render.embed.fit_embed`).
A template with a syntax error is a config error (`TemplateError`, naming
`templates.NAME.part`); one that fails on an event at run time gives that event the
default embed, and is counted in `Templates.failures`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, DictLoader, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import concat

from logship.errors import ConfigError
from logship.event import Event, Level
from logship.sinks.discord.render import KINDS, Embed
from logship.sinks.discord.render.layouts import exception_type, level_style, ratio_bar
from logship.sinks.discord.render.text import (
    code_block,
    head_lines,
    iso_timestamp,
    render_value,
    split_message,
    tail_lines,
)

log = logging.getLogger("logship.templates")

PARTS = ("title", "description", "url", "color", "footer", "author")
KEYS = frozenset({*PARTS, "extends", "timestamp", "fields", "extend_fields"})
FIELD_KEYS = frozenset({"name", "value", "inline", "when"})
COLORS = {
    "red": 0xE74C3C, "darkred": 0x8B0000, "orange": 0xE67E22, "amber": 0xFFBF00,
    "yellow": 0xF1C40F, "green": 0x2ECC71, "teal": 0x1ABC9C, "blue": 0x3498DB,
    "purple": 0x9B59B6, "pink": 0xE91E63, "grey": 0x95A5A6, "gray": 0x95A5A6,
    "black": 0x000000, "white": 0xFFFFFF,
    **{level.name.lower(): level_style(level)[1] for level in Level},
}
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_HEX = re.compile(r"^(?:#|0x)([0-9a-fA-F]{1,6})$")


class TemplateError(ConfigError):
    """A template that cannot be used: `key` is the config key (templates.NAME.part),
    `path` the template's file when it came from `templates_dir` (else the config's,
    once `within` placed it)."""

    def __init__(self, key: str, problem: str, path: Path | str | None = None) -> None:
        super().__init__(path, key, problem)


def parse_color(text: str | int) -> int:
    """A colour as Discord's integer: an integer, "#RRGGBB", "0xRRGGBB", a decimal, or
    a name (see `COLORS`). ValueError for anything else.

    >>> parse_color("#ff0000"), parse_color("error"), parse_color(" 255 "), parse_color(7)
    (16711680, 15158332, 255, 7)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str):
        word = text.strip().lower()
        if word in COLORS:
            return COLORS[word]
        match = _HEX.match(word)
        if match:
            value = int(match.group(1), 16)
        elif word.isdigit():
            value = int(word)
        else:
            raise ValueError(f"not a colour: {text!r}")
    else:
        raise ValueError(f"not a colour: {text!r}")
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(f"a colour is 0 to 0xFFFFFF, not {value}")
    return value


# -- loading ----------------------------------------------------------------------------


def load_templates(tables: Mapping[str, Any], directory: Path | None = None) -> Templates:
    """Templates from `[templates.NAME]` tables and `directory`/NAME.toml files, compiled.

    Raises `TemplateError` for anything wrong, naming templates.NAME.key.
    """
    specs: dict[str, tuple[Mapping[str, Any], Path | None]] = {}
    for name, table in tables.items():
        specs[name] = (table, None)
    if directory is not None:
        for file in sorted(directory.glob("*.toml")):
            name = file.stem
            if name in specs:
                raise TemplateError(f"templates.{name}", f"defined in the config and in {file}",
                                    file)
            try:
                table = tomllib.loads(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateError(f"templates.{name}", f"cannot read {file}: {exc}",
                                    file) from None
            except tomllib.TOMLDecodeError as exc:
                raise TemplateError(f"templates.{name}", f"TOML syntax error: {exc}",
                                    file) from None
            specs[name] = (table, file)
    return Templates(specs)


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: Any  # compiled jinja2.Template
    value: Any
    inline: bool | None
    when: Any  # compiled expression, or None


@dataclass(slots=True)
class _Compiled:
    template: Any  # jinja2.Template of the generated block document
    blocks: dict[str, list[Any]]  # part -> render functions, most derived first
    fields: tuple[_FieldSpec, ...] | None  # None: the built-in layout's fields
    timestamp: bool
    base_kind: str | None  # the built-in layout that fills what no template sets


class Templates:
    """Compiled templates by name. `render` makes one embed's data; `failed` counts a
    template that failed on an event (`failures`, by template name)."""

    def __init__(self, specs: Mapping[str, tuple[Mapping[str, Any], Path | None]]) -> None:
        self.failures: Counter[str] = Counter()
        self._specs = {name: _check_spec(name, table, path)
                       for name, (table, path) in specs.items()}
        sources = {name: _source(spec, self._specs) for name, spec in self._specs.items()}
        self._env = ImmutableSandboxedEnvironment(
            loader=DictLoader(sources), undefined=ChainableUndefined, autoescape=False,
            trim_blocks=True, lstrip_blocks=True, finalize=_finalize)
        self._env.filters.update(FILTERS)
        self._compiled: dict[str, _Compiled] = {}
        for name in self._specs:
            self._compiled[name] = self._compile(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._compiled

    def __len__(self) -> int:
        return len(self._compiled)

    # -- compiling

    def _chain(self, name: str) -> tuple[list[str], str | None]:
        """The templates `name` inherits from (itself first) and the built-in at the root."""
        chain = [name]
        while (parent := self._specs[chain[-1]].extends) is not None:
            if parent in chain:
                raise TemplateError(f"templates.{name}.extends",
                                    f"extends itself: {' → '.join([*chain, parent])}",
                                    self._specs[name].path)
            if parent not in self._specs:
                if parent in KINDS:
                    return chain, parent
                known = ", ".join(sorted({*self._specs, *KINDS}))
                child = chain[-1]
                raise TemplateError(f"templates.{child}.extends",
                                    f"unknown template {parent!r} (known: {known})",
                                    self._specs[child].path)
            chain.append(parent)
        return chain, None

    def _compile(self, name: str) -> _Compiled:
        chain, base_kind = self._chain(name)
        spec = self._specs[name]
        try:
            templates = [self._env.get_template(link) for link in chain]
        except TemplateSyntaxError as exc:  # parts were checked one by one: unlikely
            raise TemplateError(f"templates.{name}", f"Jinja error: {exc.message}",
                                spec.path) from None
        blocks: dict[str, list[Any]] = {}
        for template in templates:
            for part, function in template.blocks.items():
                blocks.setdefault(part, []).append(function)
        fields: tuple[_FieldSpec, ...] | None = None
        for link in reversed(chain):  # from the root down: each one replaces or extends
            link_spec = self._specs[link]
            if link_spec.fields is None:
                continue
            own = tuple(self._field(link, i, f) for i, f in enumerate(link_spec.fields))
            fields = (fields or ()) + own if link_spec.extend_fields else own
        timestamp = next((self._specs[link].timestamp for link in chain
                          if self._specs[link].timestamp is not None), True)
        return _Compiled(templates[0], blocks, fields, timestamp, base_kind)

    def _field(self, name: str, index: int, field: Mapping[str, Any]) -> _FieldSpec:
        key = f"templates.{name}.fields[{index}]"
        path = self._specs[name].path
        compiled = {}
        for part in ("name", "value"):
            compiled[part] = _compiled_part(self._env, field[part], f"{key}.{part}", path)
        when = None
        if field.get("when") is not None:
            try:
                when = self._env.compile_expression(field["when"])
            except TemplateSyntaxError as exc:
                raise TemplateError(f"{key}.when", _jinja_problem(exc), path) from None
        return _FieldSpec(compiled["name"], compiled["value"], field.get("inline"), when)

    # -- rendering

    def render(self, name: str, event: Event, *, host: str | None = None,
               route: str | None = None, sink: str | None = None, attached: bool = False,
               default: Callable[[str | None], Embed]) -> dict[str, Any]:
        """The embed data template `name` makes of `event` (not yet cut to Discord's
        limits: `render.embed.fit_embed` does that). `default(kind)` renders the built-in
        layout, asked for only when a part or the template needs it. Raises whatever
        the template raises."""
        compiled = self._compiled[name]
        fallback = _Default(lambda: default(compiled.base_kind))
        values = variables(event, host=host, route=route, sink=sink, attached=attached,
                           default=fallback)
        context = compiled.template.new_context(values)
        context.blocks = {part: list(functions) for part, functions in compiled.blocks.items()}
        data: dict[str, Any] = {}
        for part in PARTS:
            if part in compiled.blocks:
                text = concat(context.blocks[part][0](context)).strip()
            elif part in ("footer", "author"):
                text = (fallback.get(part) or {}).get("text" if part == "footer" else "name")
            else:
                text = fallback.get(part)
            if part == "color":
                data["color"] = (parse_color(text) if isinstance(text, str) and text.strip()
                                 else text if isinstance(text, int)
                                 else level_style(event.level)[1])
            elif text:
                data[part] = text
        if "footer" in data:
            data["footer"] = {"text": data["footer"]}
        if "author" in data:
            data["author"] = {"name": data["author"]}
        if compiled.timestamp and (stamp := iso_timestamp(event.ts)) is not None:
            data["timestamp"] = stamp
        if compiled.fields is None:
            data["fields"] = fallback.get("fields") or []
        else:
            data["fields"] = list(_fields(compiled.fields, values))
        return data

    def failed(self, name: str, event: Event, error: Exception) -> None:
        """Count a template that failed on `event`; the first failure of each template
        is logged (the later ones only counted)."""
        self.failures[name] += 1
        if self.failures[name] == 1:
            log.warning("template %s failed on an event from %s (%s: %s); the default "
                        "embed is sent instead, and further failures are only counted",
                        name, event.source or "?", type(error).__name__, error)


def _fields(fields: tuple[_FieldSpec, ...], values: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in fields:
        if field.when is not None and not field.when(**values):
            continue
        item: dict[str, Any] = {"name": field.name.render(values).strip(),
                                "value": field.value.render(values).strip()}
        if field.inline is not None:
            item["inline"] = field.inline
        yield item


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    parts: dict[str, str]
    fields: list[Mapping[str, Any]] | None
    extends: str | None
    extend_fields: bool
    timestamp: bool | None
    path: Path | None


def _check_spec(name: str, table: Any, path: Path | None) -> _Spec:
    """A template's table, its keys and types checked and every part compiled once alone
    (so an error names the part it is in)."""
    key = f"templates.{name}"
    if not _NAME.match(name):
        raise TemplateError(key, "a template name may use letters, digits, '_', '-' and '.'",
                            path)
    if not isinstance(table, Mapping):
        raise TemplateError(key, "must be a table", path)
    for unknown in sorted(set(table) - KEYS):
        raise TemplateError(f"{key}.{unknown}",
                            f"unknown key (expected one of: {', '.join(sorted(KEYS))})", path)
    env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
    env.filters.update(FILTERS)
    parts: dict[str, str] = {}
    for part in PARTS:
        if part not in table:
            continue
        value = table[part]
        if part == "color" and isinstance(value, int) and not isinstance(value, bool):
            value = str(_constant_color(value, f"{key}.color", path))
        if not isinstance(value, str):
            raise TemplateError(f"{key}.{part}", f"must be a string, not {type(value).__name__}",
                                path)
        tree = _parsed(env, value, f"{key}.{part}", path)
        if any(True for _ in tree.find_all((nodes.Block, nodes.Extends))):
            raise TemplateError(f"{key}.{part}", "{% block %} and {% extends %} cannot be used "
                                "in a part: give the template an `extends` key instead", path)
        if part == "color" and "{" not in value:
            _constant_color(value, f"{key}.color", path)
        parts[part] = value
    extends = table.get("extends")
    if extends is not None and not isinstance(extends, str):
        raise TemplateError(f"{key}.extends", "must be a template's name", path)
    for option in ("timestamp", "extend_fields"):
        if option in table and not isinstance(table[option], bool):
            raise TemplateError(f"{key}.{option}", "must be true or false", path)
    fields = table.get("fields")
    if fields is not None:
        fields = _check_fields(env, fields, key, path)
    return _Spec(name, parts, fields, extends, table.get("extend_fields", False),
                 table.get("timestamp"), path)


def _check_fields(env: ImmutableSandboxedEnvironment, fields: Any, key: str,
                  path: Path | None) -> list[Mapping[str, Any]]:
    if not isinstance(fields, list) or not all(isinstance(f, Mapping) for f in fields):
        raise TemplateError(f"{key}.fields", f"must be an array of tables ([[{key}.fields]])",
                            path)
    if len(fields) > 25:
        raise TemplateError(f"{key}.fields", "an embed holds at most 25 fields", path)
    for index, field in enumerate(fields):
        where = f"{key}.fields[{index}]"
        for unknown in sorted(set(field) - FIELD_KEYS):
            raise TemplateError(f"{where}.{unknown}", "unknown key (expected one of: "
                                f"{', '.join(sorted(FIELD_KEYS))})", path)
        for part in ("name", "value"):
            if not isinstance(field.get(part), str):
                raise TemplateError(f"{where}.{part}", "is required (a string)", path)
            _parsed(env, field[part], f"{where}.{part}", path)
        if "inline" in field and not isinstance(field["inline"], bool):
            raise TemplateError(f"{where}.inline", "must be true or false", path)
        when = field.get("when")
        if when is not None:
            if not isinstance(when, str):
                raise TemplateError(f"{where}.when", "must be a Jinja expression (a string)",
                                    path)
            try:
                env.compile_expression(when)
            except TemplateSyntaxError as exc:
                raise TemplateError(f"{where}.when", _jinja_problem(exc), path) from None
    return fields


def _parsed(env: ImmutableSandboxedEnvironment, text: str, key: str, path: Path | None
            ) -> nodes.Template:
    try:
        return env.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(key, _jinja_problem(exc), path) from None


def _compiled_part(env: ImmutableSandboxedEnvironment, text: str, key: str, path: Path | None
                   ) -> Any:
    try:
        return env.from_string(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(key, _jinja_problem(exc), path) from None


def _jinja_problem(exc: TemplateSyntaxError) -> str:
    return f"Jinja syntax error: {exc.message} (line {exc.lineno})"


def _constant_color(value: str | int, key: str, path: Path | None) -> int:
    try:
        return parse_color(value)
    except ValueError as exc:
        raise TemplateError(key, str(exc), path) from None


def _source(spec: _Spec, known: Mapping[str, _Spec]) -> str:
    """The Jinja document of a template: one block per part it sets, and `extends` when
    its parent is a template (a built-in layout is not)."""
    lines = [f"{{% extends {spec.extends!r} %}}"] if spec.extends in known else []
    lines += [f"{{% block {part} %}}{text}{{% endblock %}}" for part, text in spec.parts.items()]
    return "\n".join(lines)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


# -- what templates see ---------------------------------------------------------------


class _Default(Mapping[str, Any]):
    """The built-in layout's embed data, rendered on first use only."""

    def __init__(self, make: Callable[[], Embed]) -> None:
        self._make = make
        self._data: dict[str, Any] | None = None

    def _embed(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._make().data
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._embed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._embed())

    def __len__(self) -> int:
        return len(self._embed())


def variables(event: Event, *, host: str | None = None, route: str | None = None,
              sink: str | None = None, attached: bool = False,
              default: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a template sees of `event` (plain values: templates cannot reach the event
    or its acknowledgement handle)."""
    first, rest = split_message(event.message)
    emoji, color = level_style(event.level)
    return {
        "level": getattr(event.level, "name", str(event.level)),
        "levelno": int(event.level),
        "level_emoji": emoji,
        "level_color": color,
        "message": event.message,
        "first_line": first,
        "rest": rest,
        "exception": event.exception,
        "exception_type": exception_type(event),
        "logger": event.logger,
        "source": event.source,
        "path": event.path,
        "kind": event.kind,
        "fields": event.fields,
        "ts": event.ts,
        "time": iso_timestamp(event.ts) or "",
        "host": host,
        "route": route,
        "sink": sink,
        "attached": attached,
        "default": default if default is not None else {},
    }


def _discord_time(value: Any, style: str = "f") -> str:
    when = value if isinstance(value, datetime) else None
    if when is None and isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    if when is None:
        return ""
    stamp = iso_timestamp(when)
    return f"<t:{int(datetime.fromisoformat(stamp).timestamp())}:{style}>" if stamp else ""


FILTERS: dict[str, Callable[..., Any]] = {
    "head": lambda text, n=1000: head_lines(render_value(text), int(n)),
    "tail": lambda text, n=1000: tail_lines(render_value(text), int(n)),
    "codeblock": lambda text, n=1000, lang="py": code_block(render_value(text), int(n), lang),
    "value": render_value,
    "bar": lambda ratio: ratio_bar(float(ratio)),
    "discord_time": _discord_time,
}
