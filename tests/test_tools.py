"""Tests that drive system tools skip where one is missing, but fail under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NEEDS_A_MISSING_TOOL = '''
from tests.tools import needs

@needs("no-such-tool-for-logship")
def test_it() -> None:
    pass
'''


def run_pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (folder / "conftest.py").write_text("from tests.tools import pytest_runtest_setup\n")
    (folder / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    needs_tool(name): drives a system tool\n")
    (folder / "test_missing.py").write_text(NEEDS_A_MISSING_TOOL)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "test_missing.py"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_missing_tool_skips_outside_ci(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout


def test_a_missing_tool_fails_under_ci(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout and "CI=true" in result.stdout  # fails in its setup


def test_ci_run_exports_ci() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "export CI=true" in script
