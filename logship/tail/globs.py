"""Glob patterns for source paths: what to watch, and whether a changed path matters.

Python 3.11's fnmatch lets `*` cross `/`, which would make `logs/*/logs.json` match
`logs/a/b/logs.json`; these helpers keep shell semantics: `*` and `?` stay within one
path component and `**` spans any number of them.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

_MAGIC = re.compile(r"[*?\[]")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")
"""Compressed files are never followed as text, whatever a glob matches (`logs.log*`
matches logrotate's `logs.log.1.gz`): they are only ever read as the rotated copy of a
followed file."""


def translate(pattern: str) -> str:
    """A regex source for a shell glob where `*` does not cross `/`.

    >>> bool(re.fullmatch(translate("/l/*/x.json"), "/l/2025-07-16/x.json"))
    True
    >>> bool(re.fullmatch(translate("/l/*/x.json"), "/l/a/b/x.json"))
    False
    >>> bool(re.fullmatch(translate("/l/**/x.json"), "/l/a/b/x.json"))
    True
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 2)
            if close == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : close]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = close
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def static_root(pattern: str) -> Path:
    """The deepest folder of `pattern` that holds no glob character.

    >>> static_root("/opt/bot/logs/*/logs.json")
    PosixPath('/opt/bot/logs')
    """
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if _MAGIC.search(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def existing_ancestor(path: Path) -> Path:
    """`path` itself if it exists, else its nearest existing parent."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


NEAREST_MAX = 1000
"""Folders a glob component may expand to while `nearest_folder` looks (a bound)."""


def nearest_folder(pattern: str) -> Path:
    """The deepest existing folder on the way to `pattern`'s files: its fixed part as
    far as it exists, then through glob components while they match folders (the last
    one in order, today's dated folder say). Stops at `**`.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> (root / "logs" / "2025-07-16").mkdir(parents=True)
    >>> nearest_folder(f"{root}/logs/*/logs.json") == root / "logs" / "2025-07-16"
    True
    >>> nearest_folder(f"{root}/StatsBot/logs/*/logs.json") == root
    True
    """
    parts = Path(_absolute(pattern)).parts
    reached = [Path(parts[0])]
    for part in parts[1:-1]:
        if part == "**":
            break
        if _MAGIC.search(part):
            found = sorted(path for base in reached for path in base.glob(part)
                           if path.is_dir())[-NEAREST_MAX:]
        else:
            found = [base / part for base in reached if (base / part).is_dir()]
        if not found:
            break
        reached = found
    return reached[-1]


def _absolute(pattern: str) -> str:
    return pattern if os.path.isabs(pattern) else os.path.abspath(pattern)


@dataclass(frozen=True)
class PathMatcher:
    """Which paths belong to a source: its globs minus its exclusions.

    Exclusions match the file name or the whole path (`*.gz`, `/var/log/old/*`);
    compressed files (`COMPRESSED_SUFFIXES`) never match. Relative patterns are taken
    from the current folder and kept absolute: the watcher reports absolute paths, and
    a relative pattern would never match one of them (the config resolves them against
    its own folder first; this is the safety net).
    """

    patterns: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(map(_absolute, self.patterns)))
        object.__setattr__(self, "exclude", tuple(
            _absolute(p) if "/" in p and not p.startswith("**") else p
            for p in self.exclude))
        include = "|".join(f"(?:{translate(p)})" for p in self.patterns) or "(?!)"
        exclude = "|".join(f"(?:{translate(p)})" for p in self.exclude) or "(?!)"
        object.__setattr__(self, "_include", re.compile(include))
        object.__setattr__(self, "_exclude", re.compile(exclude))

    def matches(self, path: str) -> bool:
        if path.endswith(COMPRESSED_SUFFIXES):
            return False
        if not self._include.fullmatch(path):  # type: ignore[attr-defined]
            return False
        name = os.path.basename(path)
        excluded = self._exclude  # type: ignore[attr-defined]
        return not (excluded.fullmatch(name) or excluded.fullmatch(path))

    def scan(self) -> list[str]:
        """Every existing regular file the patterns match now, sorted."""
        found: set[str] = set()
        for pattern in self.patterns:
            for path in glob.iglob(pattern, recursive=True):
                if self.matches(path) and os.path.isfile(path):
                    found.add(path)
        return sorted(found)

    def folders(self) -> list[str]:
        """Every existing folder a file the patterns match may be in now, sorted."""
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(p for p in glob.iglob(os.path.dirname(pattern), recursive=True)
                         if os.path.isdir(p))
        return sorted(found)

    def unmatched(self, found: list[str]) -> list[str]:
        """The patterns none of `found` (files this matcher matched) matches."""
        return [pattern for pattern in self.patterns
                if not any(re.fullmatch(translate(pattern), path) for path in found)]

    def why_unmatched(self, pattern: str) -> str:
        """Where to look for what `pattern` (one that matches no file) misses."""
        hits = sum(1 for path in glob.iglob(pattern, recursive=True) if os.path.isfile(path))
        if hits:
            return f"the {hits} files it names are excluded or compressed"
        return f"nearest existing folder: {nearest_folder(pattern)}"

    def roots(self) -> set[Path]:
        """Folders to watch (recursively) so that every future match is seen."""
        return {existing_ancestor(static_root(p)) for p in self.patterns}
