"""The demo's first minute: a channel's wait is shown, and the closing account counts
events (digested and attached ones too) and says what was queued and spooled at the stop."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from logship import demo
from logship.sinks import worker as worker_module

ACCOUNT = re.compile(r"^#(\w+): (\d+) events routed: (\d+) delivered"
                     r"(?:, (\d+) still queued at the stop \(spooled\))?$", re.M)


async def test_the_wait_is_shown_and_the_account_adds_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_config = demo.demo_config

    def tight(root: Path, base_url: str) -> dict[str, Any]:
        """#errors gets 2 messages a 30 s window (its budget is used up at once) and the
        stop drains for half a second: what is left is spooled."""
        config = real_config(root, base_url)
        config["sinks"]["errors"].update(channel_messages=2, channel_window=30.0)
        config["daemon"]["drain_timeout"] = 0.5
        return config

    monkeypatch.setattr(demo, "demo_config", tight)
    monkeypatch.setattr(worker_module, "WAIT_WORTH_SAYING", 1.0)
    caplog.set_level(logging.WARNING)
    assert await demo._run(duration=2.0, rate=40.0, root=tmp_path) == 0
    out = capsys.readouterr().out

    assert re.search(r"^#errors: channel budget used, next message in \d+ s, \d+ queued$",
                     out, re.M), out
    written = re.search(r"^written: (\d+) lines \((.*)\); logship read (\d+)$", out, re.M)
    assert written is not None, out
    assert written[1] == written[3]  # every line written was read
    by_level = dict(part.split() for part in written[2].split(", "))
    found = {m[1]: (int(m[2]), int(m[3]), int(m[4] or 0)) for m in ACCOUNT.finditer(out)}
    assert set(found) == {"errors", "members", "warnings"}, out
    routed, delivered, left = found["errors"]
    assert routed == int(by_level["error"]) + int(by_level["critical"])
    assert delivered + left == routed and left > 0, out  # events, not embeds
    for channel in ("members", "warnings"):
        routed, delivered, left = found[channel]
        assert delivered == routed and left == 0, out
    assert f"the {found['errors'][2]} spooled events go with the demo's temporary folder" in out
    assert not [r for r in caplog.records if "spooled at shutdown" in r.getMessage()]
