"""logship's own log: never a source, and never a place a webhook token shows up.

logship logs to stderr (the journal under systemd). Run as `logship run 2>>app.log`
with a source whose glob matches `app.log`, every line logship logs would be read,
shipped, and logged about again: a loop that floods the channel. So:

- `own_log_file()` says which file stderr is, when it is a regular file;
- `check_sources(config, own)` makes a source that matches it (same device and inode,
  or the same resolved path) a `ConfigError` for `logship run` and `logship check`;
- the tailer refuses to open a file with stderr's identity whatever name it has now
  (a rename, or a glob that matches it later): `is_own_log`.

Delivery failures are only ever logged here (stderr), never queued to a sink. (What
keeps webhook tokens out of those lines: `logship.redact.scrub`.)
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logship.config import Config

STDERR = 2


@dataclass(frozen=True)
class OwnLog:
    """The regular file logship's stderr writes to."""

    dev: int
    inode: int
    path: str | None  # its name, when the system can tell (/proc/self/fd)

    def same(self, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino) == (self.dev, self.inode)


def own_log_file(fd: int = STDERR) -> OwnLog | None:
    """The file `fd` (stderr) writes to, when it is a regular file; None for a terminal,
    a pipe, the journal's socket, or a closed descriptor."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        path: str | None = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        path = None
    if path is not None and not path.startswith("/"):
        path = None  # "pipe:[…]" and the like: no name
    return OwnLog(st.st_dev, st.st_ino, path)


def is_own_log(st: os.stat_result, own: OwnLog | None) -> bool:
    """True when `st` describes logship's own log file."""
    return own is not None and own.same(st)


def matching_source(config: Config, own: OwnLog | None) -> tuple[int, str] | None:
    """The first source (its index, and the path) that would read logship's own log."""
    if own is None:
        return None
    from logship.tail.globs import PathMatcher

    names = sorted({own.path, os.path.realpath(own.path)}) if own.path else []
    for index, source in enumerate(config.sources):
        matcher = PathMatcher(source.paths, source.exclude)
        for name in names:
            if matcher.matches(name):
                return index, name
        for path in matcher.scan():
            try:
                if own.same(os.stat(path)):
                    return index, path
            except OSError:
                continue
    return None


def check_sources(config: Config, own: OwnLog | None) -> None:
    """Raise `ConfigError` when a source would read logship's own log (a loop)."""
    from logship.config import ConfigError

    found = matching_source(config, own)
    if found is None:
        return
    index, path = found
    raise ConfigError(config.path, f"sources[{index}].paths",
                      f"matches {path}, logship's own log (its stderr): logship would ship "
                      "its own lines, and log about shipping them, in a loop; send "
                      "logship's log elsewhere or add it to this source's exclude")
