"""logship's own log lines: level first; under systemd an sd-daemon priority prefix."""

from __future__ import annotations

import logging

import pytest

from logship.cli import setup_logging


def test_plain_lines_with_the_level_first(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("info")
    logging.getLogger("logship.test").warning("sink errors: slow")
    logging.getLogger("logship.test").debug("not shown at info")
    assert capsys.readouterr().err == "WARNING logship.test: sink errors: slow\n"


def test_journal_priority_prefix_under_systemd(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    setup_logging("debug")
    log = logging.getLogger("logship.test")
    log.error("webhook deleted")
    log.debug("details")
    assert capsys.readouterr().err.splitlines() == [
        "<3>logship.test: webhook deleted", "<7>logship.test: details"]
