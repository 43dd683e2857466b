"""The tail layer's pieces: globs, the line reader, the acknowledgement watermark, checkpoints."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.tail.checkpoint import (
    Checkpoint,
    CheckpointStore,
    FileIdentity,
    FileProgress,
    Mark,
    SavedState,
)
from logship.tail.globs import PathMatcher, static_root
from logship.tail.reader import (
    TailedFile,
    copy_key,
    end_of_last_line,
    find_copy,
    is_rotated_name,
    is_same_file,
    later_generations,
    read_copy,
    read_identity,
    read_mark,
)


def test_glob_star_stays_in_one_folder(tmp_path: Path) -> None:
    (tmp_path / "logs/2025-07-15").mkdir(parents=True)
    (tmp_path / "logs/2025-07-15/logs.json").write_text("")
    (tmp_path / "logs/a/b").mkdir(parents=True)
    (tmp_path / "logs/a/b/logs.json").write_text("")
    matcher = PathMatcher((f"{tmp_path}/logs/*/logs.json",))
    assert matcher.scan() == [f"{tmp_path}/logs/2025-07-15/logs.json"]
    assert matcher.roots() == {tmp_path / "logs"}
    assert static_root("/a/b/*/c.json") == Path("/a/b")


def test_glob_exclude_by_name_or_path() -> None:
    matcher = PathMatcher(("/l/**/*",), exclude=("*.gz", "/l/old/*"))
    assert matcher.matches("/l/x/app.log")
    assert not matcher.matches("/l/x/app.log.1.gz")
    assert not matcher.matches("/l/old/app.log")


def test_a_relative_glob_matches_the_absolute_paths_the_watcher_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "logs/2025-07-16").mkdir(parents=True)
    (tmp_path / "logs/2025-07-16/logs.json").write_text("")
    monkeypatch.chdir(tmp_path)
    matcher = PathMatcher(("logs/*/logs.json",), exclude=("old/*",))
    assert matcher.matches(f"{tmp_path}/logs/2025-07-16/logs.json")
    assert matcher.scan() == [f"{tmp_path}/logs/2025-07-16/logs.json"]
    assert matcher.roots() == {tmp_path / "logs"}
    assert not PathMatcher((f"{tmp_path}/**",), exclude=("old/*",)).matches(
        f"{tmp_path}/old/a.log")


def test_roots_of_missing_folder_is_nearest_existing(tmp_path: Path) -> None:
    matcher = PathMatcher((f"{tmp_path}/not/yet/*.log",))
    assert matcher.roots() == {tmp_path}


def open_file(path: Path, position: int = 0, max_line: int = 64) -> TailedFile:
    return TailedFile.open(str(path), position, max_line)


def test_reader_hands_out_complete_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo\npart")
    reader = open_file(path)
    batch = reader.read_lines()
    assert batch is not None
    assert batch.lines == [b"one", b"two"] and batch.ends == [4, 8]
    assert reader.read_lines() is None  # the partial line waits
    with path.open("ab") as f:
        f.write(b"ial\n")
    batch = reader.read_lines()
    assert batch is not None and batch.lines == [b"partial"] and batch.ends == [16]
    reader.close()


def test_reader_cuts_long_lines_and_skips_their_rest(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 100 + b"\nshort\n")
    reader = open_file(path, max_line=10)
    batch = reader.read_lines()
    assert batch is not None
    assert batch.lines == [b"x" * 10, b"short"] and batch.cut == [0]
    assert batch.ends == [101, 107]
    reader.close()


def test_reader_cuts_a_long_partial_line_across_reads(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"y" * 50)
    reader = open_file(path, max_line=10)
    first = reader.read_lines()
    assert first is not None and first.lines == [b"y" * 10] and first.cut == [0]
    with path.open("ab") as f:
        f.write(b"y" * 50 + b"\nnext\n")
    second = reader.read_lines()
    assert second is not None and second.lines == [b"next"] and second.ends == [106]
    reader.close()


def test_reader_cuts_a_line_that_grows_too_long_across_reads(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"ok\nabcdef")
    reader = open_file(path, max_line=10)
    first = reader.read_lines()
    assert first is not None and first.lines == [b"ok"] and first.cut == []
    with path.open("ab") as f:
        f.write(b"ghijklmn\nend\n")
    second = reader.read_lines()
    assert second is not None
    assert second.lines == [b"abcdefghij", b"end"] and second.cut == [0]
    assert second.ends == [18, 22]
    reader.close()


def test_a_line_longer_than_a_chunk_is_read_in_reads_that_grow_with_it(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    line = b"z" * (1 << 20)  # 16 chunks of 64 KiB
    path.write_bytes(line + b"\nnext\n")
    reader = open_file(path, max_line=2 << 20)
    reads = 1
    while not (batch := reader.read_lines()).lines:  # type: ignore[union-attr]
        reads += 1
    assert batch.lines[0] == line and batch.ends[0] == len(line) + 1
    assert reads <= 6  # 64, 64, 128, 256, 512 KiB...: not one read per chunk (16)
    reader.close()


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.integers(min_value=1, max_value=64))
def test_reader_any_chunking_yields_every_line_once(lines: list[bytes], chunk: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.log"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        reader = TailedFile.open(str(path), 0, 1 << 20)
        seen: list[bytes] = []
        ends: list[int] = []
        while (batch := reader.read_lines(limit=chunk)) is not None:
            seen += batch.lines
            ends += batch.ends
        reader.close()
    assert seen == lines
    assert ends == [sum(len(x) + 1 for x in lines[: i + 1]) for i in range(len(lines))]


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.integers(min_value=1, max_value=64), st.integers(min_value=1, max_value=20))
def test_the_mark_is_the_bytes_before_the_position_whatever_the_reads(
    lines: list[bytes], chunk: int, max_line: int
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.log"
        path.write_bytes(b"".join(line + b"\n" for line in lines) + b"unfinished")
        reader = TailedFile.open(str(path), 0, max_line)
        while reader.read_lines(limit=chunk) is not None:
            assert reader.mark() == read_mark(reader.fd, reader.position)
        reader.close()


def test_end_of_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"a\nbb\npartial")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert end_of_last_line(fd) == 5
    finally:
        os.close(fd)


def test_identity_tells_recreated_file_apart(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"first file\n")
    fd = os.open(path, os.O_RDONLY)
    saved = read_identity(fd)
    assert is_same_file(fd, saved)
    os.close(fd)
    path.unlink()
    path.write_bytes(b"other file\n")  # may well get the same inode back
    fd = os.open(path, os.O_RDONLY)
    try:
        assert not is_same_file(fd, saved)
    finally:
        os.close(fd)


def test_identity_of_growing_young_file_still_matches(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"short\n")
    fd = os.open(path, os.O_RDONLY)
    saved = read_identity(fd)
    with path.open("ab") as f:
        f.write(b"more lines\n" * 50)
    try:
        assert is_same_file(fd, saved)
    finally:
        os.close(fd)


def test_watermark_waits_for_the_oldest_event() -> None:
    progress = FileProgress(0)
    a = progress.track(10, shares=2)  # routed to two sinks
    b = progress.track(20, shares=1)
    progress.read_through(30)  # an unrouted line after b
    b.resolve()
    a.resolve()
    assert progress.committed == 0
    a.resolve()
    assert progress.committed == 30 and progress.pending == 0


def test_watermark_moves_at_once_with_nothing_in_flight() -> None:
    progress = FileProgress(5)
    progress.read_through(50)
    assert progress.committed == 50 and progress.changed


def test_ack_resolved_too_often_is_a_bug() -> None:
    progress = FileProgress(0)
    ack = progress.track(10, shares=1)
    ack.resolve()
    with pytest.raises(RuntimeError):
        ack.resolve()


def test_checkpoint_store_round_trip_and_atomic_file(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    ident = FileIdentity(dev=1, inode=2, head_len=3, head_hash="abc")
    store.save([Checkpoint("/l/a.json", ident, 42)])
    assert not (tmp_path / "checkpoints.tmp").exists()
    assert CheckpointStore(tmp_path).load() == SavedState(
        [Checkpoint("/l/a.json", ident, 42)], [])


def test_the_saved_state_says_when_it_was_saved_by_the_file_systems_clock(
    tmp_path: Path,
) -> None:
    """What a rotated file's modification time is compared with (see `Tailer`)."""
    store = CheckpointStore(tmp_path)
    assert store.load().saved_at_ns is None
    store.save([], sources=["statsbot"])
    assert store.load().saved_at_ns == store.path.stat().st_mtime_ns


def test_checkpoints_keep_their_mark_and_old_files_without_marks_still_load(
    tmp_path: Path,
) -> None:
    store = CheckpointStore(tmp_path)
    ident = FileIdentity(dev=1, inode=2, head_len=3, head_hash="abc")
    marked = Checkpoint("/l/a.json", ident, 42, Mark(end=50, length=50, hash="def"),
                        mtime_ns=1_752_624_000_123_456_789)
    store.save([marked], sources=["statsbot"])
    assert CheckpointStore(tmp_path).load() == SavedState([marked], ["statsbot"])
    (tmp_path / "checkpoints.json").write_text(
        '{"version": 1, "files": [{"path": "/l/a.json", "offset": 42, "identity": '
        '{"dev": 1, "inode": 2, "head_len": 3, "head_hash": "abc"}}]}')
    assert CheckpointStore(tmp_path).load() == SavedState(
        [Checkpoint("/l/a.json", ident, 42)], [])


def test_corrupt_checkpoint_file_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "checkpoints.json").write_text("{not json")
    assert CheckpointStore(tmp_path).load() == SavedState([], [])
    assert (tmp_path / "checkpoints.corrupt").read_text() == "{not json"


# -- identity beyond the head, and what counts as a rotated copy -------------------------

BANNER = b"[INFO] StatsBot v2.3 starting " + b"=" * 300 + b"\n"  # the head of every day's file


def day_lines(day: str, count: int = 40) -> bytes:
    return BANNER + b"".join(b"[INFO] %s line %d\n" % (day.encode(), n) for n in range(count))


def followed(path: Path) -> TailedFile:
    """`path` open and read to its end (complete lines), as the tailer leaves it."""
    reader = open_file(path, max_line=1 << 16)
    while reader.read_lines() is not None:
        pass
    return reader


@pytest.mark.parametrize("name", [
    "logs.json.1", "logs.json.1.gz", "logs.json.12.bz2", "logs.json-20250716",
    "logs.json-20250716.gz", "logs.json.2025-07-16", "logs.json-2025071612.xz",
    "logs.1.json", "logs.1.json.gz", "logs-20250716.json.gz",
])
def test_rotated_names_of_a_log(name: str) -> None:
    assert is_rotated_name("logs.json", name)


@pytest.mark.parametrize("name", [
    "logs.json", "other.json", "other.json.1", "logs.jsonl", "logs.json.bak", "xlogs.json.1",
    "logs.json.1.txt", "logs.json.old.gz", "logs.json-.gz", "logs.txt.1",
])
def test_names_that_are_not_rotated_names_of_a_log(name: str) -> None:
    assert not is_rotated_name("logs.json", name)


def test_the_mark_follows_the_read_position_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16", 500))
    for limit in (7, 100, 5000, 1 << 16):  # windows built from one chunk or from several
        reader = open_file(path, max_line=1 << 16)
        while reader.read_lines(limit=limit) is not None:
            pass
        assert reader.mark() == read_mark(reader.fd, reader.position), limit
        reader.close()
    reopened = open_file(path, position=5000)  # opened at a position: read there
    assert reopened.mark() == read_mark(reopened.fd, 5000)
    reopened.close()


def test_an_equal_head_is_not_the_same_file_when_the_marked_bytes_differ(
    tmp_path: Path,
) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16"))
    reader = followed(path)
    identity, mark = reader.identity, reader.mark()
    with path.open("r+b") as f:  # the same inode, the same banner, other lines (reuse)
        f.truncate(0)
        f.write(day_lines("17", 80))
    assert read_identity(reader.fd, identity.head_len) == identity  # the head alone: equal
    assert not is_same_file(reader.fd, identity, mark)
    reader.close()


def test_a_file_shorter_than_its_mark_is_not_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16"))
    reader = followed(path)
    identity, mark = reader.identity, reader.mark()
    os.truncate(path, mark.end - 1)
    assert not is_same_file(reader.fd, identity, mark)
    reader.close()


@pytest.mark.parametrize("copy_name,pack", [
    ("logs.json.1", bytes), ("logs.json.1.gz", gzip.compress),
    ("logs.json-20250716.gz", gzip.compress), ("logs.1.json.gz", gzip.compress),
    ("logs.json.1.bz2", bz2.compress), ("logs.json-20250716.xz", lzma.compress),
])
def test_a_copy_under_a_rotated_name_is_found_and_read_decompressed(
    tmp_path: Path, copy_name: str, pack: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16"))
    reader = followed(path)
    position = reader.position
    later = b"[INFO] written after the last read\n"
    (tmp_path / copy_name).write_bytes(pack(day_lines("16") + later))
    found = find_copy(str(path), reader.identity, reader.mark(), position)
    assert found == str(tmp_path / copy_name)
    assert read_copy(found, position) == later
    reader.close()


def test_an_older_rotation_with_the_same_banner_is_not_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16"))
    reader = followed(path)
    (tmp_path / "logs.json.2.gz").write_bytes(gzip.compress(day_lines("14", 90)))
    (tmp_path / "logs.json.1").write_bytes(day_lines("15", 90))
    assert find_copy(str(path), reader.identity, reader.mark(), reader.position) is None
    (tmp_path / "logs.json-20250716.gz").write_bytes(gzip.compress(day_lines("16", 60)))
    assert find_copy(str(path), reader.identity, reader.mark(), reader.position) == str(
        tmp_path / "logs.json-20250716.gz")
    reader.close()


def test_an_unrelated_sibling_with_the_same_content_is_not_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16"))
    reader = followed(path)
    (tmp_path / "other.json").write_bytes(day_lines("16", 60))  # same head, same bytes
    (tmp_path / "2025-07-17").mkdir()  # the next day's folder: another file, not a copy
    (tmp_path / "2025-07-17" / "logs.json").write_bytes(day_lines("16", 60))
    assert find_copy(str(path), reader.identity, reader.mark(), reader.position) is None
    reader.close()


def test_a_copy_shorter_than_the_position_is_not_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(day_lines("16"))
    reader = followed(path)
    (tmp_path / "logs.json.1").write_bytes(day_lines("16")[: reader.position - 1])
    assert find_copy(str(path), reader.identity, reader.mark(), reader.position) is None
    reader.close()


def test_later_generations_are_the_rotations_modified_since_oldest_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "logs.json"
    path.write_bytes(b"")
    since = 1_752_624_000 * 10**9

    def put(name: str, data: bytes, seconds_after: int) -> Path:
        made = tmp_path / name
        made.write_bytes(data)
        os.utime(made, ns=(since + seconds_after * 10**9,) * 2)
        return made

    put("logs.json.4", day_lines("14"), -60)  # rotated before logship last looked
    put("logs.json.3.gz", gzip.compress(day_lines("15")), 0)  # (as old: not later)
    put("logs.json.2", day_lines("16"), 5)
    put("logs.json.1.gz", gzip.compress(day_lines("17")), 9)
    put("logs.json.5", b"", 30)  # an empty copy
    put("logs.json.bak", day_lines("18"), 30)  # not a rotated name
    put("other.json", day_lines("18"), 30)
    read = put("logs.json-20250718", day_lines("18"), 20)
    assert later_generations(str(path), since) == [
        str(tmp_path / "logs.json.2"), str(tmp_path / "logs.json.1.gz"), str(read)]
    followed_inode = (tmp_path / "logs.json.2").stat().st_ino
    assert later_generations(str(path), since, known={followed_inode},
                             exclude={copy_key(read.stat())}) == [
        str(tmp_path / "logs.json.1.gz")]
