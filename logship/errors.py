"""The errors logship reports to its user, one family: `LogshipError`.

Each says what is wrong and where, in words a user can act on; the command line prints
`str(error)` and exits with the error's `exit_status`. Failures of what logship talks to
(a webhook answering 503, a full disk) are not errors of this kind: they are outcomes
the worker acts on (retry, spool) and logs.
"""

from __future__ import annotations

from pathlib import Path


class LogshipError(Exception):
    """Something the user must fix before logship can do what was asked."""

    exit_status = 1


class ConfigError(LogshipError):
    """A configuration problem, located by file and dotted key:

    >>> str(ConfigError("config.toml", "routes[0].sinks", "unknown sink 'erors'"))
    "config.toml: routes[0].sinks: unknown sink 'erors'"

    A part of the config parsed before its file is known (a `[redact]` table, a
    template) raises it without `path`; whoever knows the file places it with `within`.
    """

    exit_status = 2

    def __init__(self, path: Path | str | None, key: str, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.key = key
        self.problem = problem
        super().__init__(self._text())

    def _text(self) -> str:
        where = [part for part in (self.path, self.key) if part]
        return ": ".join([*where, self.problem])

    def within(self, path: Path | str, prefix: str = "") -> ConfigError:
        """This error placed in the file `path`, its key under `prefix` (a table's
        name), unless it names a file of its own already (a templates_dir file).

        >>> str(ConfigError(None, "emails", "must be true or false").within("c.toml", "redact"))
        'c.toml: redact.emails: must be true or false'
        """
        key = ".".join(part for part in (prefix, self.key) if part)
        placed = type(self).__new__(type(self))
        ConfigError.__init__(placed, self.path or path, key, self.problem)
        return placed


class StateDirBusy(LogshipError):
    """Another live process holds the state dir's lock (`logship.state_lock`)."""

    exit_status = 2

    def __init__(self, state_dir: Path, pid: int | None, lock: Path) -> None:
        self.state_dir = state_dir
        self.pid = pid
        holder = f"pid {pid}" if pid is not None else "a process whose pid it did not record"
        super().__init__(
            f"another logship ({holder}) is running with state_dir {state_dir} "
            f"(it holds {lock}); stop it first, or give this daemon another state_dir")


class PayloadError(LogshipError, ValueError):
    """A message logship was asked to build that Discord would refuse (too many embeds,
    an empty body, a username Discord bans): the caller's to change before sending."""


class UsageError(LogshipError):
    """A command asked for something that does not exist (an unknown route or sink)."""

    exit_status = 2
