"""The layout's rules, checked on the source (ARCHITECTURE.md states them):

- no import cycle between logship's modules (imports a module makes when it is loaded;
  `if TYPE_CHECKING:` blocks and imports inside functions are not loaded with it);
- the pure core (the event, parsing, routing and the size cap, redaction, the Discord
  rendering) imports nothing that does I/O, at load time or later;
- `config` knows no sink type: it names them only through `logship.sinks.registry`;
- `tail` and `sinks` never import each other (an event's `Ack` joins them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "logship"
PURE = ("logship.event", "logship.parse", "logship.pipeline.route",
        "logship.pipeline.outgoing", "logship.redact", "logship.sinks.discord.render",
        "logship.noise.fingerprint", "logship.noise.dedupe")
IO = {"asyncio", "aiohttp", "socket", "watchfiles", "subprocess", "fcntl", "http",
      "urllib.request", "logship.tail", "logship.sinks.worker", "logship.spool",
      "logship.daemon", "logship.observe", "logship.emulator"}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def parse(path: Path) -> ast.Module:
    """`path`'s syntax tree. CPython 3.11 keeps the AST builder's recursion count in
    state all threads share: a thread that parses meanwhile (3.11's tracebacks parse the
    failing line for their carets) can make `ast.parse` raise a spurious SystemError,
    "AST constructor recursion depth mismatch" (python/cpython#106905). That one is
    tried again; nothing else is."""
    for _ in range(3):
        try:
            return ast.parse(path.read_text())
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc):
                raise
    return ast.parse(path.read_text())


def imports(path: Path, name: str, *, at_load: bool) -> Iterator[str]:
    """What `path` imports: at load time only (module level, outside TYPE_CHECKING), or
    every import anywhere in it."""
    tree = parse(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if at_load else list(ast.walk(tree))
    for node in nodes:
        if at_load and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def loaded_with(target: str, known: dict[str, Path]) -> list[str]:
    """The logship modules importing `target` loads: it and its parent packages."""
    parts = target.split(".")
    return [m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if m in known]


def test_no_import_cycles() -> None:
    known = modules()
    # A module's own packages are loading already when it is (their __init__ may import
    # it): an edge to them is no cycle. Any other module it loads is an edge.
    graph = {name: {dep for target in imports(path, name, at_load=True)
                    for dep in loaded_with(target, known)
                    if dep not in loaded_with(name, known)}
             for name, path in known.items()}
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_the_pure_core_does_no_io() -> None:
    known = modules()
    offenders = []
    for name, path in known.items():
        if not name.startswith(PURE):
            continue
        for target in imports(path, name, at_load=False):
            if any(target == io or target.startswith(io + ".") for io in IO):
                offenders.append(f"{name} imports {target}")
    assert offenders == []


def test_config_knows_no_sink_type() -> None:
    known = modules()
    targets = set(imports(known["logship.config"], "logship.config", at_load=False))
    assert not {t for t in targets if t.startswith("logship.sinks.")} - {
        "logship.sinks.registry"}


def test_tail_and_sinks_never_import_each_other() -> None:
    known = modules()
    for side, other in (("logship.tail", "logship.sinks"), ("logship.sinks", "logship.tail")):
        crossing = [f"{name} imports {target}" for name, path in known.items()
                    if name.startswith(side)
                    for target in imports(path, name, at_load=False)
                    if target == other or target.startswith(other + ".")]
        assert crossing == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
