"""One daemon per state dir: an exclusive `flock` on `state_dir/logship.lock`.

Two daemons on one state dir would read the same files from the same checkpoints and
ship every line twice. The lock is taken before anything in the state dir is read or
written, and held for the daemon's life. The kernel releases it when the process ends,
however it ends (kill -9 included), so a lock file left behind never blocks a start: only
a live holder does. The file holds the holder's pid, for the message a second daemon
gives. `logship replay` does not take it: it runs beside the daemon with its own locks
per spool segment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from logship.errors import StateDirBusy

LOCK_FILE = "logship.lock"


__all__ = ["LOCK_FILE", "StateDirBusy", "StateLock"]


class StateLock:
    """`with StateLock(state_dir):` the daemon's run; StateDirBusy when it is taken."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (creating the state dir if needed) or raise StateDirBusy."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StateDirBusy(self.state_dir, pid, self.state_dir / LOCK_FILE) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go (the file stays: removing it would race a daemon that just opened it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote (None while it has not yet, or if the file is garbage)."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii", "replace").strip())
    except (OSError, ValueError):
        return None
