"""`logship check` on a config that loads but will not do what its writer meant: routes
that can never match, paths that match no file. It says so, and still exits 0."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from logship.cli import app

HOOK = "https://discord.com/api/webhooks/123456789012345678/tok-en_1"


def config(tmp_path: Path, *, paths: str, match: str = "", format: str = "json") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[daemon]
state_dir = "state"

[[sources]]
name = "statsbot"
paths = [{paths}]
format = "{format}"

[sinks.errors]
url = "{HOOK}"

[[routes]]
name = "warnings"
sinks = ["errors"]
{match}
""")
    path.chmod(0o600)
    return path


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", "--config", str(path)])
    return result.exit_code, result.output


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning:")]


def test_a_route_no_event_can_match_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "bot.json").write_text("")
    status, out = check(config(tmp_path, paths='"bot.json"',
                               match='match = { level = "^WARN$", kind = "^crash$" }'))
    assert status == 0, out
    assert warnings(out) == [
        "warning: route warnings can never match: match.level /^WARN$/ matches no level "
        "(levels are matched by name: debug, info, warning, error, critical; in any case)",
        "warning: route warnings can never match: match.kind /^crash$/ matches no kind "
        "(kinds: error, performance, member, status, log)",
    ]


def test_a_route_on_a_level_in_capitals_is_fine(tmp_path: Path) -> None:
    (tmp_path / "bot.json").write_text("")
    status, out = check(config(tmp_path, paths='"bot.json"',
                               match='match = { level = "^WARNING$" }'))
    assert status == 0 and warnings(out) == [], out


def test_a_path_that_matches_no_file_is_a_warning_naming_the_nearest_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "opt").mkdir()
    (tmp_path / "bot.json").write_text("")
    status, out = check(config(tmp_path, paths='"bot.json", "opt/StatsBot/logs/*/logs.json"'))
    assert status == 0, out
    assert "statsbot: format=json start_at=end (1 files match now)" in out
    assert warnings(out) == [
        f"warning: source statsbot: no file matches {tmp_path}/opt/StatsBot/logs/*/logs.json "
        f"(nearest existing folder: {tmp_path}/opt); logship run watches for one"]
