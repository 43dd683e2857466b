"""Custom embed templates: compiled once, sandboxed, inherited, checked at config time,
and never the reason an event is lost (a failing template falls back to the default)."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from logship.config import ConfigError, RouteConfig, parse_config
from logship.event import Event, Level
from logship.sinks.discord import compiled_templates
from logship.sinks.discord import templates as templates_module
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.render import Renderer, render_embed
from logship.sinks.discord.templates import TemplateError, Templates, load_templates, parse_color
from logship.sinks.discord.url import WebhookURL
from tests.discord_schema import execute_webhook_errors

TS = datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC)
URL = "http://127.0.0.1:9/api/webhooks/123456789012345678/token"
SINK = discord_sink(name="alerts", url=WebhookURL.parse(URL))


def event(message: str = "Failed to update heartbeat\nwhile posting", **options: Any) -> Event:
    values: dict[str, Any] = dict(ts=TS, level=Level.ERROR, message=message, logger="monitoring",
                                  source="statsbot", kind="error",
                                  fields={"service": "monitoring", "guild_id": "987"})
    return Event(**(values | options))


def render(tables: dict[str, Any], name: str, e: Event | None = None, **sink: Any
           ) -> dict[str, Any]:
    renderer = Renderer(discord_sink(name="alerts", url=SINK.options.url, **sink),
                        load_templates(tables), host="bot-1")
    embed = renderer.embed(e or event(), RouteConfig(name="r", sinks=("alerts",), template=name))
    assert execute_webhook_errors({"embeds": [embed.data]}) == []
    return embed.data


def config(text_tables: dict[str, Any], tmp_path: Path, **top: Any) -> Any:
    data = {"daemon": {"state_dir": str(tmp_path)},
            "sinks": {"alerts": {"url": URL}},
            "routes": [{"name": "errors", "sinks": ["alerts"], "template": "oncall"}],
            "templates": text_tables, **top}
    return parse_config(data, tmp_path / "config.toml", {})


ONCALL = {
    "title": "{{ level_emoji }} {{ fields.service or source }}: {{ first_line }}",
    "description": "{{ rest }}\n{% if exception %}{{ exception | codeblock(300) }}{% endif %}",
    "color": "{{ 'critical' if levelno >= 50 else 'orange' }}",
    "footer": "{{ host }} · {{ route }} · {{ sink }}",
    "fields": [
        {"name": "Guild", "value": "{{ fields.guild_id }}", "when": "fields.guild_id",
         "inline": False},
        {"name": "Member", "value": "{{ fields.member_id }}", "when": "fields.member_id"},
        {"name": "Kind", "value": "{{ kind }}"},
    ],
}


def test_a_template_describes_the_embed() -> None:
    data = render({"oncall": ONCALL}, "oncall",
                  event(exception="Traceback:\n  x\nKeyError: 'id'"))
    assert data["title"] == "🔴 monitoring: Failed to update heartbeat"
    assert data["description"] == "while posting\n```py\nTraceback:\n  x\nKeyError: 'id'\n```"
    assert data["color"] == 0xE67E22
    assert data["footer"] == {"text": "bot-1 · r · alerts"}
    assert data["timestamp"] == "2025-07-15T20:42:07+00:00"
    assert data["fields"] == [{"name": "Guild", "value": "987", "inline": False},
                              {"name": "Kind", "value": "error", "inline": True}]
    critical = render({"oncall": ONCALL}, "oncall", event(level=Level.CRITICAL, fields={}))
    assert critical["color"] == 0x8B0000
    assert [f["name"] for f in critical["fields"]] == ["Kind"]  # the `when`s were false
    assert critical["description"] == "while posting"  # the conditional section is gone


def test_inheritance_super_and_defaults_from_the_built_in_layout() -> None:
    tables = {
        "base": {"footer": "{{ host }}", "color": 0x123456,
                 "fields": [{"name": "Service", "value": "{{ fields.service }}"}]},
        "oncall": {"extends": "base", "title": "[{{ level }}] {{ first_line }}",
                   "extend_fields": True,
                   "fields": [{"name": "Guild", "value": "{{ fields.guild_id }}"}]},
        "loud": {"extends": "oncall", "title": "{{ super() }} 🚨", "fields": [
            {"name": "only", "value": "this"}]},
        "perf": {"extends": "performance", "footer": "", "timestamp": False},
    }
    oncall = render(tables, "oncall")
    assert oncall["title"] == "[ERROR] Failed to update heartbeat"
    assert oncall["footer"] == {"text": "bot-1"} and oncall["color"] == 0x123456
    assert [f["name"] for f in oncall["fields"]] == ["Service", "Guild"]
    # a part no template sets comes from the built-in layout (here: the error layout)
    assert oncall["description"] == render_embed(event(), "bot-1").data["description"]
    loud = render(tables, "loud")
    assert loud["title"] == "[ERROR] Failed to update heartbeat 🚨"
    assert loud["fields"] == [{"name": "only", "value": "this", "inline": True}]
    perf = render(tables, "perf", event(kind="log", level=Level.WARNING,
                                        fields={"value": 3, "threshold": 1}))
    assert "footer" not in perf and "timestamp" not in perf  # "" leaves a part out
    assert perf["title"].startswith("🚨 CRITICAL")  # the performance layout, not the kind's
    assert perf["fields"][-1]["name"] == "Ratio"


def test_filters_and_the_default_variable() -> None:
    tables = {"t": {
        "title": "{{ default.title }} (via template)",
        "description": "{{ message | head(12) }}\n{{ exception | tail(30) }}",
        "fields": [{"name": "ratio", "value": "{{ 1.7 | bar }}"},
                   {"name": "when", "value": "{{ ts | discord_time('R') }}"},
                   {"name": "ctx", "value": "{{ fields | value }}"}],
    }}
    data = render(tables, "t", event(exception="line one\nline two\nline three\nValueError: x"))
    assert data["title"] == "🔴 ERROR · ValueError: Failed to update heartbeat (via template)"
    assert data["description"] == "Failed to u…\n…\nline three\nValueError: x"
    values = {f["name"]: f["value"] for f in data["fields"]}
    assert values == {"ratio": "1.70× ████████░░ 🔴 error", "when": "<t:1752612127:R>",
                      "ctx": '{"service":"monitoring","guild_id":"987"}'}


def test_what_a_template_makes_is_cut_to_discord_limits() -> None:
    tables = {"huge": {"title": "{{ 'x' * 1000 }}", "description": "```{{ 'y' * 9000 }}",
                       "fields": [{"name": "{{ loop }}n{{ i }}", "value": "v" * 2000}
                                  for i in range(25)]}}
    data = render(tables, "huge")
    assert len(data["title"]) == 256
    assert data["description"].count("```") % 2 == 0
    assert 3000 < len(data["description"]) <= 4096
    assert 0 < len(data["fields"]) < 25


def test_a_template_that_fails_falls_back_to_the_default_and_is_counted() -> None:
    tables = {"boom": {"title": "{{ 1 / 0 }}"}, "badcolor": {"color": "{{ 'mauve' }}"},
              "empty": {"title": "", "description": "", "footer": "", "fields": []},
              "evil": {"title": "{{ fields.clear() }}"}}
    templates = load_templates(tables)
    renderer = Renderer(SINK, templates, host="bot-1")
    seen: list[str] = []
    renderer.on_template_error = lambda name, _e, error: seen.append(f"{name}: {error}")
    e = event()
    for name in ("boom", "badcolor", "empty", "evil", "boom"):
        embed = renderer.embed(e, RouteConfig(name="r", sinks=("alerts",), template=name))
        assert embed.data == render_embed(e, "bot-1").data
    assert templates.failures == {"boom": 2, "badcolor": 1, "empty": 1, "evil": 1}
    assert e.fields == {"service": "monitoring", "guild_id": "987"}  # the sandbox held
    assert seen[0] == "boom: division by zero"
    assert "mauve" in seen[1]


def test_templates_cannot_reach_outside_the_sandbox() -> None:
    tables = {"peek": {"title": "x{{ ''.__class__.__mro__ }}{{ fields.__class__ }}y",
                       "description": "{{ ts.__class__.__init__.__globals__ }}"}}
    data = render(tables, "peek")
    assert data["title"] == "xy"
    assert "description" not in data or "os" not in data["description"]


@pytest.mark.parametrize(("tables", "key", "problem"), [
    ({"oncall": {"title": "{{ level "}}, "templates.oncall.title", "Jinja syntax error"),
    ({"oncall": {"title": "{% if x %}"}}, "templates.oncall.title", "Jinja syntax error"),
    ({"oncall": {"color": "mauve"}}, "templates.oncall.color", "not a colour"),
    ({"oncall": {"color": 2**25}}, "templates.oncall.color", "0xFFFFFF"),
    ({"oncall": {"titel": "x"}}, "templates.oncall.titel", "unknown key"),
    ({"oncall": {"extends": "nope"}}, "templates.oncall.extends", "unknown template 'nope'"),
    ({"oncall": {"extends": "a"}, "a": {"extends": "oncall"}}, "templates.oncall.extends",
     "extends itself"),
    ({"oncall": {"fields": [{"name": "x"}]}}, "templates.oncall.fields[0].value", "required"),
    ({"oncall": {"fields": [{"name": "x", "value": "{{ y }}", "when": "a ==="}]}},
     "templates.oncall.fields[0].when", "Jinja syntax error"),
    ({"oncall": {"fields": [{"name": "x", "value": "y", "inline": "yes"}]}},
     "templates.oncall.fields[0].inline", "true or false"),
    ({"oncall": {"title": "{% block title %}x{% endblock %}"}}, "templates.oncall.title",
     "cannot be used in a part"),
    ({"oncall": {"description": "{% endblock %}"}}, "templates.oncall.description",
     "Jinja syntax error"),
    ({"oncall": "text"}, "templates.oncall", "must be a table"),
    ({"on call": {}}, "templates.on call", "letters, digits"),
])
def test_an_invalid_template_is_a_config_error(tmp_path: Path, tables: dict[str, Any], key: str,
                                               problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tables, tmp_path)
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}: {key}: ")


def test_a_route_must_name_a_known_template(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config({"other": {"title": "x"}}, tmp_path)
    assert caught.value.key == "routes[0].template"
    assert "unknown template 'oncall'" in caught.value.problem
    assert "error, log, member, other, performance, status" in caught.value.problem
    data = {"daemon": {"state_dir": str(tmp_path)}, "sinks": {"alerts": {"url": URL}},
            "routes": [{"name": "errors", "sinks": ["alerts"], "template": "member"}]}
    loaded = parse_config(data, tmp_path / "config.toml", {})
    assert compiled_templates(loaded) is None  # only built-in layouts: Jinja not even loaded


def test_templates_from_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "oncall.toml").write_text('extends = "base"\ntitle = "{{ level }}!"\n')
    (folder / "base.toml").write_text('footer = "from a file"\n')
    loaded = config({}, tmp_path, templates_dir="templates")
    assert loaded.templates_dir == folder
    assert compiled_templates(loaded).names == ["base", "oncall"]  # type: ignore[union-attr]
    (folder / "broken.toml").write_text('title = "{{ oops"\n')
    with pytest.raises(ConfigError) as caught:
        config({}, tmp_path, templates_dir="templates")
    assert caught.value.path == str(folder / "broken.toml")
    assert caught.value.key == "templates.broken.title"
    (folder / "broken.toml").write_text('title = "fixed"\n')
    with pytest.raises(ConfigError, match="defined in the config and in"):
        config({"base": {}}, tmp_path, templates_dir="templates")
    with pytest.raises(ConfigError, match=r"templates_dir: .* is not a folder"):
        config({}, tmp_path, templates_dir="missing")


def test_templates_are_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    templates = load_templates({"oncall": ONCALL})
    compiled: list[str] = []
    original = templates._env.from_string  # type: ignore[attr-defined]
    monkeypatch.setattr(templates._env, "from_string",  # type: ignore[attr-defined]
                        lambda *a, **k: compiled.append("x") or original(*a, **k))
    renderer = Renderer(SINK, templates)
    for _ in range(50):
        renderer.embed(event(), RouteConfig(name="r", sinks=("alerts",), template="oncall"))
    assert compiled == []


def test_parse_color_and_errors() -> None:
    assert parse_color("0xFF") == 255
    for bad in ("", "#12345678", "-1", True, None):
        with pytest.raises(ValueError):
            parse_color(bad)  # type: ignore[arg-type]
    assert isinstance(TemplateError("templates.x.title", "bad"), ConfigError)  # one family
    assert isinstance(load_templates({}), Templates)


def test_docstring_examples() -> None:
    result = doctest.testmod(templates_module)
    assert result.failed == 0
