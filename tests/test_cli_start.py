"""A newcomer's first commands: the version, and where the config is (or is not)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logship.cli import app

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_version_is_the_packages() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert run("--version") == (0, f"logship {version}\n", "")


def test_no_config_anywhere_says_where_it_looked_and_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOGSHIP_CONFIG", raising=False)
    if Path("/etc/logship/config.toml").exists():
        pytest.skip("this machine has /etc/logship/config.toml")
    status, out, err = run("check")
    assert status == 2, out + err
    assert err.startswith("error: no config file found; looked for:\n"), err
    for place in ("--config PATH (not given)", "$LOGSHIP_CONFIG (not set)",
                  f"./config.toml ({tmp_path}/config.toml: no such file)",
                  "/etc/logship/config.toml (no such file)",
                  "logship init FOLDER", "config.example.toml"):
        assert place in err, place


@pytest.mark.parametrize(("args", "env", "origin"), [
    (("--config", "missing.toml"), {}, "given with --config"),
    ((), {"LOGSHIP_CONFIG": "missing.toml"}, "named by $LOGSHIP_CONFIG"),
])
def test_a_named_config_that_is_missing_says_who_named_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...],
    env: dict[str, str], origin: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOGSHIP_CONFIG", raising=False)
    status, _, err = run("check", *args, env=env)
    assert status == 2
    assert err.startswith(f"error: missing.toml: no such file ({origin})"), err
    assert "logship init FOLDER" in err
