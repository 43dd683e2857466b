"""End to end: a short chaos run (bench/chaos.py) loses no line and repeats none beyond
what its kills allow.

The real daemon runs against the emulator while random steps write lines (whole, in
pieces, too long, tracebacks, banners), rotate with the real logrotate, open and delete
day folders, truncate, kill -9, SIGTERM, reload with SIGHUP, break and heal the webhooks
and run `logship replay`; the invariant is checked after every step and once more at
the end (see the module's docstring). Each run draws a new seed, printed with the steps
and logship's log when it fails; set LOGSHIP_CHAOS_SEED to run one seed again (the same
steps; the daemon's timing still varies).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from bench.chaos import Runner
from tests.tools import needs

pytestmark = pytest.mark.e2e

STEPS = 40  # 15-25 s here (2 cores): a run's length depends on the steps it draws


@needs("logrotate")
async def test_random_host_events_lose_no_line_and_repeat_only_what_kills_allow(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("LOGSHIP_CHAOS_SEED") or random.randrange(1 << 31))
    result = await Runner(tmp_path, seed, STEPS).run()
    print(f"\n{result.row()}")
    if result.violation is not None:  # the seed, the steps, the lines, logship's log
        pytest.fail(result.violation, pytrace=False)
    assert result.lost == []
    assert result.duplicates <= result.bound
