"""`logship spool` and `logship replay` before any outage: no spool is an empty spool."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from logship.cli import app

HOOK = "http://127.0.0.1:9/api/webhooks/123456789012345678/token"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[daemon]
state_dir = "state"

[[sources]]
name = "bot"
paths = ["bot.log"]

[sinks.errors]
url = "{HOOK}"

[[routes]]
name = "errors"
min_level = "error"
sinks = ["errors"]
""")
    return path


def test_a_spool_not_made_yet_is_empty(tmp_path: Path) -> None:
    absent = tmp_path / "state" / "spool"
    assert run("spool", str(absent)) == (
        0, f"{absent}: the spool is empty (no such folder yet: nothing was ever spooled "
           "there)\n", "")
    absent.mkdir(parents=True)
    assert run("spool", str(absent)) == (0, f"{absent}: the spool is empty\n", "")


def test_replay_of_a_spool_not_made_yet_has_nothing_to_do(tmp_path: Path) -> None:
    absent = tmp_path / "state" / "spool"
    status, out, err = run("replay", str(absent), "--config", str(config(tmp_path)))
    assert (status, err) == (0, ""), out + err
    assert out.endswith(f"replay: 0 delivered, 0 remain in {absent} (no such folder yet: "
                        "nothing was ever spooled there)\n")
    assert not absent.exists()


def test_a_file_is_not_a_spool(tmp_path: Path) -> None:
    (tmp_path / "spool").write_text("")
    status, _, err = run("spool", str(tmp_path / "spool"))
    assert status == 2 and "is a file" in err
