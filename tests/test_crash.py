"""End to end: SIGKILL at random moments loses nothing; duplicates stay within what was
delivered but not yet checkpointed.

`logship run` is killed (SIGKILL) six times at random moments while a writer appends
unique ids and the emulator fails 20% of requests (a batch that fails twice in a row goes
to the spool); it is restarted each time, and at the end stopped with SIGTERM. Every id
must then be delivered or in the spool (`<state_dir>/spool/<sink>/*.jsonl`).

Duplicates are allowed only where the design says they can happen: an event delivered
(or spooled) after the last checkpoint write before a kill is read and sent again after
the restart. Right after each kill the scenario counts the ids already delivered or
spooled whose line ends past the offset in checkpoints.json; the sum over the kills is
the bound (the tightest one the design allows; the looser "everything delivered before
the last kill" is printed too). The seed of each run is printed to replay it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.torture import run_crash

pytestmark = pytest.mark.e2e


async def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    result = await run_crash(tmp_path, kills=6, fail_rate=0.2, max_attempts=2)
    print(f"\n{result.figure()}")
    for note in result.notes:
        print(f"  {note}")

    assert result.kills is not None and result.kills >= 5
    assert result.lost == 0, result.explain()  # every id delivered or spooled
    assert result.exit_status == 0, result.explain()
    assert result.dup_bound is not None
    assert result.duplicated <= result.dup_bound, result.explain()
