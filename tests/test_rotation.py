"""End to end: no line is lost across rotation, the bot's daily folders and truncation.

The real daemon follows a file that a writer appends unique ids to (`line #N`), while
the real `logrotate` binary rotates it, or the bot's scheme moves to a new day's folder
and deletes the old one, or the file is truncated in place. Every id that was in a file
(the live one, a rotated copy, a `.gz`, or a folder just before it was deleted) must
reach the emulator. The scenarios live in `bench/torture.py`, which prints the same
figures as a table; here each test prints its figure line (`pytest -s` shows it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.torture import (
    QUICK,
    ROTATIONS,
    Result,
    run_daily,
    run_rotation,
    run_truncate,
)
from tests.tools import needs

pytestmark = pytest.mark.e2e

needs_logrotate = needs("logrotate")


def check(result: Result, *, duplicates_allowed: bool = False) -> None:
    print(f"\n{result.figure()}")
    assert result.written > 0, result.explain()
    assert result.lost == 0, result.explain()
    assert result.held_deleted == [], result.explain()  # no disk held by deleted files
    assert result.exit_status == 0, result.explain()
    if not duplicates_allowed:
        assert result.duplicated == 0, result.explain()


@needs_logrotate
@pytest.mark.parametrize("mode", list(ROTATIONS))
async def test_logrotate_while_writing_loses_no_line(mode: str, tmp_path: Path) -> None:
    result = await run_rotation(mode, tmp_path, QUICK)
    rotated = [p for p in (tmp_path / "logs").iterdir() if p.name != "logs.log"]
    assert len(rotated) >= QUICK.rounds, result.explain()  # logrotate rotated every round
    # Following `logs.log*` reads each copy from its start: its lines come again.
    check(result, duplicates_allowed=mode.endswith("logs.log*"))


async def test_new_day_folder_and_deleted_old_folder_lose_no_line(tmp_path: Path) -> None:
    result = await run_daily(tmp_path)
    check(result)


async def test_truncation_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    check(await run_truncate(tmp_path))


async def test_truncation_refilled_past_the_old_offset_is_read_from_the_start(
    tmp_path: Path,
) -> None:
    # After the truncation the writer puts more bytes in the file than it held before,
    # before logship looks: the size never shrank, but the file's first bytes changed.
    check(await run_truncate(tmp_path, refill=True))
