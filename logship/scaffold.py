"""`logship init FOLDER`: a commented config for the log files found in a folder.

What it recognises, in FOLDER and the folders below it (`DEPTH` levels):

- StatsBot's layout, `logs/YYYY-MM-DD/logs.json` (JSON lines, every level) with
  `logs.log` and `errors.log` beside it holding the same records as text: one source,
  the JSON files (reading the text ones too would send every event twice);
- a sibling bot's, `logs/YYYY-MM-DD/{BOT}-YYYY-MM-DD.log` with `{BOT}-Errors-….log`
  repeating its errors: one source per bot, its full files;
- any other `*.log`, `*.json` or `*.jsonl` in dated folders (a date in its name becomes
  a glob) or in FOLDER itself or its `logs/` (`log/`): a source each.

A source's format comes from its lines (JSON objects: json; none: text; both: auto).
Webhook URLs are `${ENV}` placeholders, so the file holds no secret and `logship check`
names the variable to set. Nothing here writes: `render` makes the text, the command
writes it (never over an existing file unless told).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import tomli_w

from logship.tail.globs import COMPRESSED_SUFFIXES, PathMatcher

PLAIN_FOLDERS = ("logs", "log")  # below FOLDER, also searched for plain log files
DEPTH = 4  # folder levels below FOLDER searched for a logs/YYYY-MM-DD/ layout
FOLDERS_MAX = 5000  # folders looked at in all (a home folder is big)
DAYS_LOOKED_AT = 7  # the newest dated folders whose file names are taken
SNIFF_BYTES = 65536
SNIFF_LINES = 20
LOG_SUFFIXES = (".log", ".json", ".jsonl")
SKIPPED = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env", "proc",
                     "sys", "dev"})
WEBHOOK_ENV = "DISCORD_WEBHOOK_ERRORS"
LOOKED_FOR = ("logs/YYYY-MM-DD/ folders (StatsBot's logs.json, logs.log; a sibling bot's "
              "BOT-YYYY-MM-DD.log) and *.log, *.json, *.jsonl files, in it and its logs/")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SIBLING = re.compile(r"(?P<bot>.+?)-(?P<errors>Errors-)?\d{4}-\d{2}-\d{2}\.log")
_NAME_CHARS = re.compile(r"[^a-z0-9_.\-]+")


@dataclass(frozen=True)
class FoundLogs:
    """One source to write: its name, glob and format, and a comment on what it is."""

    name: str
    glob: str
    format: str
    note: str

    @property
    def files(self) -> int:
        """How many files the glob matches now."""
        return len(PathMatcher((self.glob,)).scan())


def find_logs(folder: Path) -> list[FoundLogs]:
    """The log sources found in `folder` (see the module doc), names unique."""
    folder = folder.resolve()
    found: list[FoundLogs] = []
    for root in _dated_roots(folder):
        found += _dated_sources(root)
    for plain in (folder, *(folder / name for name in PLAIN_FOLDERS)):
        found += _plain_sources(plain)
    return _unique(found)


# -- what is in the folders ---------------------------------------------------------------


def _dated_roots(folder: Path) -> list[Path]:
    """Folders holding YYYY-MM-DD folders, `folder` and below (breadth first)."""
    if _DATE.fullmatch(folder.name):
        return [folder.parent]
    roots: list[Path] = []
    level, seen = [folder], 0
    for _ in range(DEPTH + 1):
        below: list[Path] = []
        for parent in level:
            children = _subfolders(parent)
            seen += len(children)
            if any(_DATE.fullmatch(child.name) for child in children):
                roots.append(parent)
            else:
                below += children
        if seen > FOLDERS_MAX:
            break
        level = below
    return roots


def _subfolders(parent: Path) -> list[Path]:
    try:
        return sorted(p for p in parent.iterdir() if p.is_dir() and not p.is_symlink()
                      and not p.name.startswith(".") and p.name not in SKIPPED)
    except OSError:
        return []


def _log_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(
            LOG_SUFFIXES) and not p.name.endswith(COMPRESSED_SUFFIXES))
    except OSError:
        return []


def _dated_sources(root: Path) -> list[FoundLogs]:
    """The sources of one logs/ folder: StatsBot's files, sibling bots', the rest."""
    days = [p for p in _subfolders(root) if _DATE.fullmatch(p.name)][-DAYS_LOOKED_AT:]
    newest: dict[str, Path] = {}  # file name -> its newest copy
    for day in days:
        newest.update({path.name: path for path in _log_files(day)})
    owner = root.parent.name if root.name == "logs" else root.name
    every_day = f"{glob.escape(str(root))}/*"
    found: list[FoundLogs] = []
    if "logs.json" in newest:
        found.append(FoundLogs(owner, f"{every_day}/logs.json", sniff(newest["logs.json"]),
                               "StatsBot's layout: logs/YYYY-MM-DD/logs.json, every record "
                               "in full; logs.log and errors.log beside it hold the same "
                               "records as text, so they are not read too"))
        newest = {n: p for n, p in newest.items() if n not in ("logs.json", "logs.log",
                                                                  "errors.log")}
    elif "logs.log" in newest:
        found.append(FoundLogs(owner, f"{every_day}/logs.log", sniff(newest["logs.log"]),
                               "StatsBot's layout: logs/YYYY-MM-DD/logs.log; errors.log "
                               "beside it repeats its errors, so it is not read too"))
        newest = {n: p for n, p in newest.items() if n not in ("logs.log", "errors.log")}
    found += _sibling_sources(newest, every_day)
    for name, path in sorted(newest.items()):
        pattern = _DATE.sub("[0-9]*", glob.escape(name))
        found.append(FoundLogs(_stem(name), f"{every_day}/{pattern}", sniff(path),
                               f"{pattern} in each of {root}/YYYY-MM-DD/"))
    return found


def _sibling_sources(newest: dict[str, Path], every_day: str) -> list[FoundLogs]:
    """Sibling bots' BOT-YYYY-MM-DD.log files (taken out of `newest`)."""
    bots: dict[str, dict[bool, Path]] = {}
    for name, path in newest.items():
        match = _SIBLING.fullmatch(name)
        if match:
            bots.setdefault(match["bot"], {})[bool(match["errors"])] = path
    found = []
    for bot, files in sorted(bots.items()):
        for path in files.values():
            del newest[path.name]
        escaped = glob.escape(bot)
        if False in files:
            found.append(FoundLogs(bot, f"{every_day}/{escaped}-[0-9]*.log", sniff(files[False]),
                                   f"a sibling bot's log, {bot}-YYYY-MM-DD.log"
                                   + (f"; {bot}-Errors-YYYY-MM-DD.log repeats its errors, so "
                                      "it is not read too" if True in files else "")))
        else:
            found.append(FoundLogs(bot, f"{every_day}/{escaped}-Errors-[0-9]*.log",
                                   sniff(files[True]),
                                   f"a sibling bot's errors, {bot}-Errors-YYYY-MM-DD.log"))
    return found


def _plain_sources(folder: Path) -> list[FoundLogs]:
    """Log files right in `folder`: a source each."""
    return [FoundLogs(_stem(path.name), glob.escape(str(path)), sniff(path),
                      f"{path.name} in {folder}")
            for path in _log_files(folder)]


def sniff(path: Path) -> str:
    """The format of a log file, from its first lines: "json" when they are JSON
    objects, "text" when none is, "auto" for both; by its name when it is empty."""
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        head = b""
    lines = [line.strip() for line in head.splitlines() if line.strip()][:SNIFF_LINES]
    if not lines:
        return "json" if path.suffix in (".json", ".jsonl") else "auto"
    json_lines = sum(line.startswith(b"{") for line in lines)
    if json_lines == len(lines):
        return "json"
    return "text" if json_lines == 0 else "auto"


def _stem(file_name: str) -> str:
    stem = file_name.rsplit(".", 1)[0]
    return _DATE.sub("", stem).strip("-_.") or stem


def _unique(found: list[FoundLogs]) -> list[FoundLogs]:
    """Source names as the config takes them (lowercase, [a-z0-9_.-]), each once."""
    taken: set[str] = set()
    unique = []
    for logs in found:
        base = _NAME_CHARS.sub("-", logs.name.lower()).strip("-")[:60] or "logs"
        name, number = base, 2
        while name in taken:
            name, number = f"{base}-{number}", number + 1
        taken.add(name)
        unique.append(FoundLogs(name, logs.glob, logs.format, logs.note))
    return unique


# -- the config ---------------------------------------------------------------------------


def state_dir_for(output: Path) -> str:
    """Where the daemon keeps its state: /var/lib/logship for a config in /etc (a
    system install, systemd's StateDirectory=), else `state` beside the config."""
    return "/var/lib/logship" if output.resolve().is_relative_to("/etc") else "state"


def render(found: list[FoundLogs], folder: Path, state_dir: str,
           today: date | None = None) -> str:
    """The config's text: the sources found, one Discord sink for errors, commented."""
    lines = [
        f"# logship config, written by `logship init {folder}` on "
        f"{(today or date.today()).isoformat()}",
        "# for the logs found there. Check it: `logship check --config THIS_FILE`; see where",
        "# a line would go: `logship preview --line '...'`. Every option: config.example.toml.",
        "# Relative paths are taken from this file's folder.",
        "",
        "[daemon]",
        _commented(f"state_dir = {_toml(state_dir)}", "checkpoints, spool, delivery history"),
        "",
    ]
    for logs in found:
        lines += [f"# {line}" for line in _wrap(f"{logs.name}: {logs.note}.", 86)]
        lines += [
            "[[sources]]",
            f"name = {_toml(logs.name)}",
            f"paths = [{_toml(logs.glob)}]",
            _commented(f"format = {_toml(logs.format)}", "auto | json | tree | text"),
            _commented('start_at = "end"', "files seen for the first time are read"),
            _commented("#", 'from their end; "beginning" sends what'),
            _commented("#", "they hold already"),
            "",
        ]
    lines += [
        "# A Discord webhook (channel settings → Integrations → Webhooks → New Webhook, Copy",
        "# Webhook URL); its URL is a secret, so it comes from the environment:",
        f"#   export {WEBHOOK_ENV}='https://discord.com/api/webhooks/ID/TOKEN'",
        '# or, under systemd, url_file = "/run/credentials/logship.service/errors".',
        "[sinks.errors]",
        f'url = "${{{WEBHOOK_ENV}}}"',
        "",
        "[[routes]]",
        'name = "errors"',
        _commented('min_level = "error"', "debug | info | warning | error | critical"),
        'sinks = ["errors"]',
        "",
        "# More, when you want them:",
        "# [sinks.members]",
        '# url = "${DISCORD_WEBHOOK_MEMBERS}"',
        "#",
        "# [[routes]]",
        '# name = "members"',
        '# sinks = ["members"]',
        _commented('# match = { kind = "^member$" }', "joins, leaves, bans"),
        "",
    ]
    return "\n".join(lines)


def _commented(code: str, comment: str, column: int = 39) -> str:
    """A line of `code` with its comment at `column`, as config.example.toml has them."""
    return f"{code}{' ' * max(1, column - len(code))}# {comment}"


def _toml(value: object) -> str:
    """`value` as a TOML value (quoted and escaped as TOML wants)."""
    return tomli_w.dumps({"v": value}).partition(" = ")[2].strip()


def _wrap(text: str, width: int) -> Iterator[str]:
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            yield line
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        yield line


def write_new(path: Path, text: str, *, force: bool) -> None:
    """Write `text` to `path`, readable by its owner only (it may hold a URL one day);
    FileExistsError when it exists and `force` is not set."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
