"""`logship preview`: parse, route and render exactly as the daemon, and send nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from logship.cli import app
from logship.config import load_config
from logship.pipeline.preview import parse_lines, pick_source, render

ROLE = "111111111111111111"
CONFIG = f"""
[daemon]
state_dir = "state"

[[sources]]
name = "statsbot"
paths = ["logs/*/logs.json"]
format = "json"

[[sources]]
name = "text"
paths = ["logs/*/logs.log"]
format = "text"

[sinks.errors]
url = "http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token"
username = "StatsBot logs"

[sinks.plain]
url = "http://127.0.0.1:9/api/webhooks/223456789012345678/secret-token"
embeds = false
thread_id = "333333333333333333"

[sinks.members]
url = "http://127.0.0.1:9/api/webhooks/323456789012345678/secret-token"

[templates.member_card]
title = "{{{{ first_line }}}}"
description = "{{% if fields.member_name %}}who: {{{{ fields.member_name }}}}{{% endif %}}"

[templates.broken]
title = "{{{{ 1 / 0 }}}}"

[[routes]]
name = "errors"
min_level = "error"
sinks = ["errors", "plain"]
mention = "<@&{ROLE}>"

[[routes]]
name = "members"
sinks = ["members"]
match = {{ message = "(?i)^member" }}
template = "member_card"

[[routes]]
name = "oops"
sinks = ["members"]
match = {{ message = "^never$" }}
template = "broken"
"""
ERROR_LINE = orjson.dumps({
    "timestamp": "2025-07-15T20:42:07.902000+00:00", "level": "ERROR",
    "message": "Failed to update heartbeat @everyone <@42>",
    "context": {"traceback": "Traceback (most recent call last):\n"
                + '  File "m.py", line 1, in f\n    g()\n' * 300
                + "HTTPException: 503 Service Unavailable"},
    "service": "monitoring"}).decode()
MEMBER_LINE = orjson.dumps({
    "timestamp": "2025-07-15T20:44:03+00:00", "level": "INFO",
    "message": "Member join recorded: alice#0",
    "context": {"member_id": 123456789012345678, "username": "alice#0"}}).decode()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def preview(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["preview", "--config", str(config_file), *args])
    return result.exit_code, result.output


def bodies(output: str) -> list[dict[str, object]]:
    """The JSON bodies printed (indented blocks that start with "  {")."""
    found, block = [], None
    for line in output.splitlines():
        if line == "  {":
            block = [line]
        elif block is not None:
            block.append(line)
            if line == "  }":
                found.append(json.loads("\n".join(block)))
                block = None
    return found


def test_an_error_line_is_shown_for_each_sink(config_file: Path) -> None:
    code, output = preview(config_file, "--line", ERROR_LINE)
    assert code == 0, output
    assert "event 1: ERROR kind=error source=statsbot" in output
    assert "→ route errors → sink errors" in output
    assert "POST …/webhooks/123456789012345678/****?wait=true (multipart: payload_json + " \
           "files[0])" in output
    assert "?wait=true&thread_id=333333333333333333" in output
    assert "secret-token" not in output
    embed_body, text_body = bodies(output)
    assert embed_body["content"] == f"<@&{ROLE}>"
    assert embed_body["allowed_mentions"] == {"parse": [], "roles": [ROLE]}
    assert embed_body["embeds"][0]["title"] == (  # type: ignore[index]
        "🔴 ERROR · HTTPException: Failed to update heartbeat @everyone <@42>")
    assert embed_body["attachments"] == [{"id": "0", "filename": "traceback.txt",
                                          "description": "Traceback: 🔴 ERROR · HTTPException:"
                                          " Failed to update heartbeat @everyone <@42>"}]
    assert str(text_body["content"]).startswith(f"<@&{ROLE}>\n**🔴 ERROR · HTTPException")
    assert "embeds" not in text_body
    assert output.count("Discord would accept it. It reads:") == 2
    assert "  ▌ 🔴 ERROR · HTTPException: Failed to update heartbeat" in output
    assert "  📎 files[0] traceback.txt (" in output


def test_a_template_route_and_a_file(config_file: Path, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "2025-07-15" / "logs.json"
    log.parent.mkdir(parents=True)
    log.write_text(f"{MEMBER_LINE}\n{ERROR_LINE}\n")
    code, output = preview(config_file, "--file", str(log))
    assert code == 0, output
    (embed,) = bodies(output)[0]["embeds"]  # type: ignore[misc]
    assert embed == {"title": "Member join recorded: alice#0", "description": "who: alice#0",
                     "color": 0x2ECC71,  # what the template leaves out: the member layout's
                     "timestamp": "2025-07-15T20:44:03+00:00", "fields": embed["fields"],
                     "footer": embed["footer"]}
    assert embed["footer"]["text"].startswith("statsbot · ")  # then the host
    assert {"name": "ID", "value": "123456789012345678", "inline": True} in embed["fields"]
    assert "event 2: ERROR" in output


def test_a_line_that_matches_no_route(config_file: Path) -> None:
    code, output = preview(config_file, "--line", '{"level": "INFO", "message": "all fine"}')
    assert code == 1
    assert "matches no route: nothing would be sent" in output
    assert "no event matches any route" in output
    code, output = preview(config_file, "--line", "")
    assert code == 1 and "no event" in output


def test_a_named_route_is_shown_even_when_it_does_not_match(config_file: Path) -> None:
    code, output = preview(config_file, "--route", "oops", "--line", MEMBER_LINE)
    assert code == 1  # the line does not match that route
    assert "→ route oops (its conditions do not match this event) → sink members" in output
    assert "warning: template 'broken' failed: ZeroDivisionError" in output
    assert "the default embed is sent instead" in output
    code, output = preview(config_file, "--route", "members", "--line", MEMBER_LINE)
    assert code == 0 and "→ route members → sink members" in output
    assert "route errors" not in output


def test_usage_and_config_errors_exit_2(config_file: Path, tmp_path: Path) -> None:
    assert preview(config_file, "--route", "nope", "--line", "x")[0] == 2
    assert preview(config_file, "--source", "nope", "--line", "x")[0] == 2
    assert preview(config_file, "--line", "x", "--file", str(config_file))[0] == 2
    broken = tmp_path / "broken.toml"
    broken.write_text(CONFIG.replace('title = "{{ 1 / 0 }}"', 'title = "{{ 1 / }}"'))
    code, output = preview(broken, "--line", "x")
    assert code == 2
    assert "templates.broken.title: Jinja syntax error" in output


def test_the_parser_is_the_source_s(config_file: Path, tmp_path: Path) -> None:
    config = load_config(config_file)
    text_file = tmp_path / "logs" / "2025-07-15" / "logs.log"
    assert pick_source(config, file=text_file).name == "text"  # type: ignore[union-attr]
    assert pick_source(config).name == "statsbot"  # type: ignore[union-attr]
    lines = [b"[2025-07-15 20:42:07] [ERROR] [monitoring] Failed to update heartbeat",
             b"Traceback (most recent call last):", b'  File "m.py", line 1, in f',
             b"KeyError: 'id'"]
    (event,) = parse_lines(lines, pick_source(config, name="text"), "x.log")
    assert event.exception and "KeyError" in event.exception
    [(_, rendered)] = render(config, [event])
    assert [r.sink.name for r in rendered] == ["errors", "plain"]
    assert all(r.problems == [] for r in rendered)


def test_a_backlog_shows_how_n_such_events_would_go_out_by_the_sink_s_batching(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from logship.sinks.discord.sink import DiscordSink

    batches: list[bool] = []
    batch = DiscordSink.batch

    def counted(self: DiscordSink, *args: object) -> object:
        made = batch(self, *args)  # type: ignore[arg-type]
        batches.append(made.digest)
        return made

    monkeypatch.setattr(DiscordSink, "batch", counted)
    code, output = preview(config_file, "--route", "errors", "--line", ERROR_LINE,
                           "--backlog", "30")
    assert code == 0, output
    # its traceback attached, an embed shows its end: 3 to a message, 10 requests; a
    # plain text message (the sink "plain") holds one
    assert ("a backlog of 30 such events, all waiting now: 10 requests; the budget needs "
            "2.0 s") in output
    assert "requests 1-10: full embeds, 3 events each" in output
    assert "requests 1-30: in full, 1 event each" in output
    assert "digests" not in output
    assert batches == [False] * 40  # the sink's own batch(), request by request

    batches.clear()
    code, output = preview(config_file, "--route", "errors", "--line", ERROR_LINE,
                           "--backlog", "1500")
    assert code == 0, output
    first = output.split("→ route errors → sink plain")[0]
    counts = re.search(r"a backlog of 1500 such events, all waiting now: (\d+) requests; "
                       r"the budget needs ([\d.]+) s", first)
    assert counts is not None
    assert batches.count(True) >= 1 and len(batches) >= int(counts[1])
    assert re.search(r"requests 1-\d+: digests \(a line per event\) \+ events\.log \(each "
                     r"event in full\), \d+(-\d+)? events each", first)
    assert "the first digest reads:" in first and "📎 files[0] events.log (" in first
    assert "▌ `20:42:07` 🔴 HTTPException · [monitoring] Failed to update heartbeat" in first
