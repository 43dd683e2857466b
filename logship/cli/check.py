"""`logship check`: what a valid config will do, in a few readable lines."""

from __future__ import annotations

import logging
import stat
from typing import TYPE_CHECKING

import typer

from logship.cli.app import ConfigOption, command, load

if TYPE_CHECKING:
    from logship.config import Config


@command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and print its sources, sinks and routes."""
    for line in describe(load(config, own_log=True)):
        typer.echo(line)


def describe(config: Config) -> list[str]:
    """The lines `logship check` prints for a config that loaded without error."""
    from logship.pipeline.route import describe as describe_routes
    from logship.sinks.registry import sink_type
    from logship.tail.globs import PathMatcher

    lines = [f"config {config.path}: OK", ""]
    lines.append("sources:")
    for source in config.sources:
        matcher = PathMatcher(source.paths, source.exclude)
        found = matcher.scan()
        lines.append(f"  {source.name}: format={source.format} start_at={source.start_at} "
                     f"({len(found)} files match now)")
        lines += [f"    {path}" for path in source.paths]
    lines += ["", "sinks:"]
    for sink in config.sinks.values():
        lines.append(f"  {sink.name}: {sink_type(sink.type).describe(sink.options)}")
    lines += ["", "routes:"]
    lines += [f"  {row}" for row in describe_routes(config.routes)]
    unrouted = set(config.sinks) - {s for r in config.routes for s in r.sinks}
    if unrouted:
        lines.append(f"  (no route sends to: {', '.join(sorted(unrouted))})")
    lines += ["", f"state: {config.daemon.state_dir} (checkpoints.json), "
                  f"spool: {config.daemon.spool_dir}"]
    if config.cluster is not None:
        lines += ["", *cluster_lines(config)]
    lines += warnings(config)
    return lines


def cluster_lines(config: Config) -> list[str]:
    """`[cluster]`, and whether its Redis answers now."""
    import asyncio
    import socket

    from logship.cluster.link import RedisLink

    cluster = config.cluster
    assert cluster is not None
    link = RedisLink(cluster)
    logging.getLogger("logship.cluster").disabled = True  # its own words, said below
    try:
        up = asyncio.run(_answers(link))
    finally:
        logging.getLogger("logship.cluster").disabled = False
    host = cluster.host or socket.gethostname()
    answer = "Redis answers" if up else f"Redis does not answer ({link.reason}): each " \
        f"host would keep to {cluster.fallback_share:.0%} of the limits until it does"
    return [f"cluster: {cluster.masked_redis}, namespace {cluster.name!r}, this host "
            f"{host!r}: {answer}"]


async def _answers(link: object) -> bool:
    try:
        return await link.start()  # type: ignore[attr-defined, no-any-return]
    finally:
        await link.close()  # type: ignore[attr-defined]


def warnings(config: Config) -> list[str]:
    """Things that work but should be fixed."""
    from logship.pipeline.route import never_matching

    found = _unmatched_paths(config)
    found += [f"warning: route {route} can never match: {why}"
              for route, why in never_matching(config.routes, config.sources)]
    if not config.spool.redact:
        found.append(f"warning: [spool] redact = false: {config.daemon.spool_dir} keeps events "
                     "raw, secrets included (Discord still gets them redacted); keep it "
                     "private")
    try:
        mode = config.path.stat().st_mode
    except OSError:
        return found
    if mode & (stat.S_IRGRP | stat.S_IROTH) and _has_inline_url(config):
        found.append(f"warning: {config.path} is readable by group or others and holds a "
                     "webhook URL (a secret): chmod 600 it, or use url_file / ${ENV}")
    return found


def _unmatched_paths(config: Config) -> list[str]:
    """A warning for each source glob that matches no file now, and where to look."""
    from logship.tail.globs import PathMatcher

    found = []
    for source in config.sources:
        matcher = PathMatcher(source.paths, source.exclude)
        found += [f"warning: source {source.name}: no file matches {pattern} "
                  f"({matcher.why_unmatched(pattern)}); logship run watches for one"
                  for pattern in matcher.unmatched(matcher.scan())]
    return found


def _has_inline_url(config: Config) -> bool:
    try:
        text = config.path.read_text(encoding="utf-8")
    except OSError:
        return False
    return "/webhooks/" in text
