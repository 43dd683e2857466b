"""`logship init FOLDER`: a commented config for the logs it finds, that `check` accepts."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from logship.cli import app
from logship.config import load_config
from logship.tail.globs import PathMatcher

HOOK = "https://discord.com/api/webhooks/123456789012345678/tok-en_1"
JSON_LINE = orjson.dumps({"timestamp": "2025-07-16T12:00:00+00:00", "level": "INFO",
                          "message": "Heartbeat updated successfully", "context": {}}) + b"\n"
TEXT_LINE = b"[2025-07-16 12:00:00] [INFO] Heartbeat updated successfully\n"


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def statsbot(root: Path) -> Path:
    """StatsBot's layout: logs/YYYY-MM-DD/{logs.json, logs.log, errors.log}."""
    for day in ("2025-07-15", "2025-07-16"):
        folder = root / "StatsBot" / "logs" / day
        folder.mkdir(parents=True)
        (folder / "logs.json").write_bytes(JSON_LINE)
        (folder / "logs.log").write_bytes(TEXT_LINE)
        (folder / "errors.log").write_bytes(b"")
    return root / "StatsBot"


def sibling(root: Path, bot: str = "GuardBot") -> Path:
    """A sibling bot: logs/YYYY-MM-DD/{BOT}-YYYY-MM-DD.log and {BOT}-Errors-…log."""
    folder = root / bot / "logs" / "2025-07-16"
    folder.mkdir(parents=True)
    (folder / f"{bot}-2025-07-16.log").write_text("[03:42:09 PM EDT] 🤖 Bot Ready\n")
    (folder / f"{bot}-Errors-2025-07-16.log").write_bytes(b"")
    return root / bot


def init(folder: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run("init", str(folder), "--output", str(out), *extra)


def sources(config: Path) -> dict[str, tuple[tuple[str, ...], str]]:
    loaded = load_config(config, env={"DISCORD_WEBHOOK_ERRORS": HOOK})
    return {s.name: (s.paths, s.format) for s in loaded.sources}


def test_statsbots_layout_becomes_one_json_source_that_check_accepts(tmp_path: Path) -> None:
    bot = statsbot(tmp_path)
    out = tmp_path / "config.toml"
    status, printed, err = init(bot, out)
    assert status == 0, printed + err
    assert sources(out) == {"statsbot": ((f"{bot}/logs/*/logs.json",), "json")}
    text = out.read_text()
    assert 'url = "${DISCORD_WEBHOOK_ERRORS}"' in text
    assert "so they are not read too" in text  # logs.log and errors.log: why
    assert "DISCORD_WEBHOOK_ERRORS" in printed and "logship check" in printed
    status, checked, err = run("check", "--config", str(out),
                               env={"DISCORD_WEBHOOK_ERRORS": HOOK})
    assert status == 0, checked + err
    assert "(2 files match now)" in checked
    assert "warning" not in checked
    status, _, err = run("check", "--config", str(out), env={"DISCORD_WEBHOOK_ERRORS": None})
    assert status == 2 and "environment variable DISCORD_WEBHOOK_ERRORS is not set" in err


def test_sibling_bots_in_one_folder_each_get_a_source(tmp_path: Path) -> None:
    statsbot(tmp_path)
    sibling(tmp_path, "GuardBot")
    out = tmp_path / "config.toml"
    status, printed, err = init(tmp_path, out)
    assert status == 0, printed + err
    found = sources(out)
    assert found["guardbot"] == ((f"{tmp_path}/GuardBot/logs/*/GuardBot-[0-9]*.log",), "text")
    assert found["statsbot"] == ((f"{tmp_path}/StatsBot/logs/*/logs.json",), "json")
    matcher = PathMatcher(found["guardbot"][0])
    assert [Path(p).name for p in matcher.scan()] == ["GuardBot-2025-07-16.log"]


def test_plain_log_files_get_their_format_from_their_lines(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(TEXT_LINE)
    (tmp_path / "events.log").write_bytes(JSON_LINE)
    (tmp_path / "audit.json").write_bytes(JSON_LINE)
    (tmp_path / "old.log.1").write_bytes(TEXT_LINE)
    out = tmp_path / "out" / "config.toml"
    out.parent.mkdir()
    status, printed, err = init(tmp_path, out)
    assert status == 0, printed + err
    found = sources(out)
    assert sorted((paths, fmt) for paths, fmt in found.values()) == [
        ((f"{tmp_path}/app.log",), "text"),
        ((f"{tmp_path}/audit.json",), "json"),
        ((f"{tmp_path}/events.log",), "json"),
    ]


def test_plain_log_files_in_the_bots_logs_folder_are_found(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "bot.json").write_bytes(JSON_LINE)
    out = tmp_path / "config.toml"
    status, printed, err = init(tmp_path, out)
    assert status == 0, printed + err
    assert list(sources(out).values()) == [((f"{tmp_path}/logs/bot.json",), "json")]


def test_it_never_overwrites_a_config_unless_forced(tmp_path: Path) -> None:
    bot = statsbot(tmp_path)
    out = tmp_path / "config.toml"
    out.write_text("# mine\n")
    status, _, err = init(bot, out)
    assert status == 2 and "exists" in err and "--force" in err
    assert out.read_text() == "# mine\n"
    status, _, err = init(bot, out, "--force")
    assert status == 0, err
    assert "statsbot" in sources(out)


def test_a_folder_without_logs_writes_nothing_and_says_what_it_looked_for(
    tmp_path: Path,
) -> None:
    out = tmp_path / "config.toml"
    status, _, err = init(tmp_path, out)
    assert status == 1
    assert "no log files found" in err and "logs/YYYY-MM-DD/" in err
    assert not out.exists()


def test_a_folder_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    status, _, err = init(tmp_path / "nowhere", tmp_path / "config.toml")
    assert status == 2 and "not a folder" in err
