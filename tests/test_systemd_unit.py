"""packaging/systemd/logship.service: what the daemon relies on, and how exposed it is.

The unit is checked three ways: its directives (read here, no systemd needed), the
exposure rating of `systemd-analyze security --offline=true` (works without a running
systemd; skipped where systemd-analyze is not installed), and whether the system calls
the daemon makes survive its SystemCallFilter=.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from logship.config import DaemonConfig
from tests.tools import needs, tool_path

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "systemd" / "logship.service"
LOGROTATE = ROOT / "packaging" / "logrotate" / "mybot"
MAX_EXPOSURE = 2.0
ANALYZE = tool_path("systemd-analyze")


def directives(path: Path) -> dict[str, list[str]]:
    """{"Section.Key": [values in order]}: systemd units repeat keys, so keep them all."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


UNIT_KEYS = directives(UNIT)


def one(key: str) -> str:
    values = UNIT_KEYS.get(f"Service.{key}", [])
    assert values, f"{key}= is not set"
    return values[-1]


def seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "min": 60, "": 1}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|min|)", text)
    assert match, text
    return float(match.group(1)) * units[match.group(2)]


def test_lifecycle() -> None:
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("ExecStart").split()[1:] == ["run", "--config", "/etc/logship/config.toml"]
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one("Restart") == "on-failure"
    assert seconds(one("WatchdogSec")) >= 10
    # SIGTERM drains for drain_timeout, then spools and saves: systemd must wait longer.
    assert seconds(one("TimeoutStopSec")) > DaemonConfig(Path(), Path()).drain_timeout + 10
    assert UNIT_KEYS["Install.WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in UNIT_KEYS["Unit.After"][0]


def test_identity_state_and_credentials() -> None:
    assert one("User") == "logship" or one("DynamicUser") == "yes"
    assert one("StateDirectory") == "logship"  # /var/lib/logship, the default state_dir
    assert str(DaemonConfig(Path("/var/lib/logship"), Path()).state_dir) == "/var/lib/logship"
    assert one("LoadCredential").startswith("webhook:/etc/logship/")


def test_what_the_daemon_needs_is_allowed() -> None:
    families = one("RestrictAddressFamilies").split()
    assert sorted(families) == ["AF_INET", "AF_INET6", "AF_UNIX"]  # Discord, sd_notify
    assert one("ProtectSystem") == "strict"
    assert one("NoNewPrivileges") == "yes"
    assert one("CapabilityBoundingSet") == ""
    assert UNIT_KEYS["Service.SystemCallFilter"][0] == "@system-service"
    assert one("SystemCallErrorNumber") == "EPERM"  # a refused call fails, not kills


@needs("systemd-analyze")
def test_exposure_rating(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ANALYZE), "security", "--offline=true", "--no-pager", str(UNIT)],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match, output
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, output


def _syscall_groups(analyze: str) -> dict[str, set[str]]:
    """Every @group and its members (system calls and nested @groups)."""
    listing = subprocess.run([analyze, "syscall-filter", "--no-pager"], capture_output=True,
                             text=True, check=True, timeout=60).stdout
    groups: dict[str, set[str]] = {}
    current = None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif current is not None and line.startswith(" ") and not line.strip().startswith("#"):
            current.add(line.strip())
    return groups


def _expand(name: str, groups: dict[str, set[str]]) -> set[str]:
    if not name.startswith("@"):
        return {name}
    return set().union(*(_expand(member, groups) for member in groups[name]))


# What CPython, asyncio, aiohttp (client and server), watchfiles and the spool call.
NEEDED = (
    "read", "write", "pread64", "openat", "close", "fstat", "newfstatat", "statx", "lseek",
    "fsync", "fdatasync", "rename", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat",
    "getdents64", "fcntl", "ioctl", "readlink", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch", "socket", "connect", "bind", "listen", "accept4", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "pipe2", "poll",
    "ppoll", "mmap", "munmap", "mprotect", "madvise", "brk", "futex", "clone", "clone3",
    "set_robust_list", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
    "getpid", "gettid", "tgkill", "getrandom", "clock_gettime", "clock_nanosleep", "uname",
    "sched_getaffinity", "getrlimit", "prlimit64", "exit", "exit_group",
)


@needs("systemd-analyze")
def test_the_system_call_filter_lets_the_daemon_work() -> None:
    assert ANALYZE is not None
    groups = _syscall_groups(ANALYZE)
    allowed: set[str] = set()
    for entry in UNIT_KEYS["Service.SystemCallFilter"]:
        names = set().union(*(_expand(n, groups) for n in entry.lstrip("~").split()))
        allowed = allowed - names if entry.startswith("~") else allowed | names
    known = _expand("@known", groups) if "@known" in groups else set(NEEDED)
    refused = sorted(name for name in NEEDED if name in known and name not in allowed)
    assert refused == []


@needs("logrotate")
def test_the_logrotate_snippet_parses(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(tool_path("logrotate")), "--debug", "--state", str(tmp_path / "state"),
         str(LOGROTATE)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()
    lines = LOGROTATE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert "delaycompress" in text  # the just-rotated file stays readable for logship
    assert "postrotate" not in text  # logship follows by inode: no signal needed
