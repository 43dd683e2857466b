"""Where events leave logship: the `Sink` protocol (`base`), the one worker that drives
any sink (`worker`), the sink types by name (`registry`): Discord webhooks (`discord`)
and files (`file`).

    worker = start_worker(config.sinks["errors"], context, spool)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logship.sinks.registry import sink_type

if TYPE_CHECKING:
    from logship.config import SinkConfig
    from logship.sinks.base import SinkContext
    from logship.sinks.worker import SinkWorker, SpoolLike


def build_worker(config: SinkConfig, context: SinkContext, spool: SpoolLike) -> SinkWorker:
    """A worker for the sink `config` describes, built by its type (`run()` it as a task).
    The same for the daemon, `logship replay` and `logship test-webhook`."""
    from logship.sinks.worker import SinkWorker

    return SinkWorker(sink_type(config.type).build(config, context), spool)
