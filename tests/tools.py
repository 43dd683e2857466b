"""System tools some tests drive for real (logrotate, systemd-analyze).

A test that needs one is marked `@needs("logrotate")`. Where the tool is missing, the
test is skipped on a developer's machine, and fails under CI (`CI=true` in the
environment, as `.ci/run` and most CI services set it): a green CI run then means the
rotation and unit tests really ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

import pytest

SBIN = ("/usr/sbin", "/sbin")  # logrotate lives here, off a user's PATH


def tool_path(name: str) -> str | None:
    """Where the tool `name` is: on PATH, else in an sbin folder; None when missing."""
    found = shutil.which(name)
    if found is not None:
        return found
    for folder in SBIN:
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def under_ci(env: Mapping[str, str]) -> bool:
    """Whether this run is CI's (`CI=true`, `CI=1`...).

    >>> under_ci({"CI": "true"}), under_ci({"CI": "false"}), under_ci({})
    (True, False, False)
    """
    return env.get("CI", "").strip().lower() in ("true", "1", "yes")


def verdict(tool: str, path: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """What a test needing `tool` (found at `path`, None: missing) does: None (it runs),
    ("skip", why) or, under CI, ("fail", why).

    >>> verdict("logrotate", "/usr/sbin/logrotate", {"CI": "true"}) is None
    True
    >>> verdict("logrotate", None, {})
    ('skip', 'logrotate is not installed (.ci/run installs it)')
    >>> verdict("logrotate", None, {"CI": "true"})[0]
    'fail'
    """
    if path is not None:
        return None
    if under_ci(env):
        return "fail", (f"{tool} is not installed, and CI=true: under CI a test that needs it "
                        "must run, not skip (.ci/run installs it)")
    return "skip", f"{tool} is not installed (.ci/run installs it)"


def needs(tool: str) -> pytest.MarkDecorator:
    """Mark a test as driving `tool` (see the module doc)."""
    return pytest.mark.needs_tool(tool)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip or fail (see `verdict`) a test whose tool is missing; conftest imports it."""
    for mark in item.iter_markers("needs_tool"):
        tool = mark.args[0]
        found = verdict(tool, tool_path(tool), os.environ)
        if found is not None:
            action, why = found
            if action == "fail":
                pytest.fail(why, pytrace=False)
            pytest.skip(why)
