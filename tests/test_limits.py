"""Byte caps: one event (cut, marked, never dropped), one attachment, one request's files,
and a sink's queue (backpressure by bytes as well as by count; nothing lost)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from logship.cli.check import warnings
from logship.config import ConfigError, SinkConfig, parse_config
from logship.event import Event, Level
from logship.pipeline.outgoing import cap_event, capped, event_bytes
from logship.redact import Redactor
from logship.redact.scrub import ScrubbingFormatter, scrub_tokens
from logship.sinks.discord.client import Response
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.ratelimit import RateLimits
from logship.sinks.discord.render import BODY_RESERVE, Renderer
from logship.sinks.discord.url import WebhookURL
from logship.sinks.worker import Item, SinkWorker
from logship.spool.store import Spool, read_segment, segments
from logship.tail.checkpoint import FileProgress
from logship.tail.own_log import OwnLog, check_sources
from tests.discord_schema import execute_webhook_errors
from tests.workers import discord_worker

URL = WebhookURL.parse("http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token")
OK = {"id": "1", "channel_id": "2", "type": 0}


def sink(**options: Any) -> SinkConfig:
    return discord_sink(**({"name": "errors", "url": URL, "retry_base": 0.0,
                          "retry_cap": 0.0} | options))


# -- one event ------------------------------------------------------------------------


def test_an_event_over_its_cap_is_cut_marked_and_keeps_head_and_tail() -> None:
    message = "head of the message " + "m" * 300_000
    exception = "Traceback (most recent call last):\n" + "  frame\n" * 50_000 + "KeyError: 'x'"
    fields = {f"key{i}": "v" * 100 for i in range(10_000)}
    event = Event(None, Level.ERROR, message, exception=exception, fields=fields)
    cut = cap_event(event, 65536)
    assert event_bytes(cut) <= 65536
    assert cut.message.startswith("head of the message") and "[cut: " in cut.message
    assert cut.exception is not None and cut.exception.endswith("KeyError: 'x'")
    assert cut.fields["truncated"] is True and cut.fields["fields_cut"] > 0
    assert "key0" in cut.fields
    assert event.fields is fields and len(fields) == 10_000  # the original is untouched


def test_capped_gives_the_size_of_the_event_it_returns_cut_or_not() -> None:
    small = Event(None, Level.INFO, "hello", fields={"user": "bob"})
    big = Event(None, Level.ERROR, "x " * 5000, fields={"blob": "y" * 9000})
    for event in (small, big):
        kept, size = capped(event, 4096)
        assert size == event_bytes(kept) <= 4096
    assert capped(small, 4096)[0] is small and capped(big, 4096)[0] is not big
    assert Item(big, size=7).size == 7 and Item(big).size == event_bytes(big)


def test_an_event_within_its_cap_is_the_same_object() -> None:
    event = Event(None, Level.INFO, "hello", fields={"user": "bob", "nested": {"a": [1, 2]}})
    assert cap_event(event, 4096) is event


def test_a_cut_never_splits_a_word_so_a_secret_is_not_left_half_visible() -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
    message = ("x " * 2000) + token + " tail"
    for limit in range(4096, 4300, 7):
        cut = cap_event(Event(None, Level.INFO, message), limit)
        kept = cut.message.rpartition("\n[cut:")[0]
        assert token in kept or token[:8] not in kept


def test_deep_and_huge_fields_are_bounded() -> None:
    deep: Any = "bottom"
    for _ in range(5000):
        deep = {"d": deep}
    event = Event(None, Level.INFO, "deep", fields={"deep": deep, "big": ["x" * 1000] * 5000})
    cut = cap_event(event, 8192)
    assert event_bytes(cut) <= 8192 and cut.fields["truncated"] is True


# -- one attachment, one request ------------------------------------------------------


def _traceback(lines: int) -> str:
    frames = "".join(f'  File "bot.py", line {i}, in handler\n    do_it({i})\n'
                     for i in range(lines))
    return f"Traceback (most recent call last):\n{frames}ValueError: the end"


def test_an_attachment_keeps_its_tail_within_max_file_bytes() -> None:
    renderer = Renderer(sink(max_file_bytes=4096))
    embed = renderer.embed(Event(None, Level.ERROR, "boom", exception=_traceback(2000)))
    (attached,) = embed.files
    assert len(attached.data) <= 4096
    assert attached.data.decode().rstrip().endswith("ValueError: the end")


def test_a_request_carries_files_up_to_max_request_bytes() -> None:
    room = 200_000
    renderer = Renderer(sink(max_request_bytes=room + BODY_RESERVE))
    embeds = [renderer.embed(Event(None, Level.ERROR, f"boom {i}", exception=_traceback(1500)))
              for i in range(6)]
    size = len(embeds[0].files[0].data)
    assert 50_000 < size < room  # each file fits alone, not all six together
    count = renderer.pack(embeds)
    assert 1 <= count < 6 and count * size <= room
    message = renderer.payload(embeds[:count])
    assert sum(len(f.data) for f in message.files) <= room
    assert execute_webhook_errors(message.body) == []


def test_the_renderer_redacts_what_a_raw_spool_kept() -> None:
    renderer = Renderer(sink(), redactor=Redactor())
    raw = Event(None, Level.ERROR, "login with password=hunter2 failed",
                fields={"token": "abc123def"})
    embeds, _ = renderer.digest([raw])
    text = str(renderer.payload([renderer.embed(raw), *embeds]).body)
    assert "hunter2" not in text and "abc123def" not in text
    assert raw.message.endswith("hunter2 failed")  # the raw event is untouched


# -- the queue --------------------------------------------------------------------------


class _Gate:
    """A client whose answers wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.sent = 0

    async def execute(self, url: WebhookURL, payload: dict[str, Any], **_: Any) -> Response:
        await self.open.wait()
        self.sent += len(payload.get("embeds", []))
        return Response(200, 0.0, {}, {**OK, "id": str(self.sent)})


def _worker(client: Any, tmp_path: Path, **options: Any) -> SinkWorker:
    limiter = RateLimits().limiter(channel="c", webhook_requests=1000, webhook_window=1.0,
                                   channel_messages=1000, channel_window=1.0)
    return discord_worker(sink(**options), Spool(tmp_path / "spool"), client=client,
                          limiter=limiter)


async def test_the_queue_waits_at_its_byte_cap_and_loses_nothing(tmp_path: Path) -> None:
    client = _Gate()
    worker = _worker(client, tmp_path, queue_size=1000, queue_max_bytes=65536)
    progress = FileProgress(0)
    items = []
    for i in range(40):
        event = Event(None, Level.ERROR, f"event {i} " + "x" * 10_000, offset=(i + 1) * 10)
        event.ack = progress.track(event.offset, 1)
        items.append(Item(event))
    task = asyncio.create_task(worker.run())
    feeder = asyncio.create_task(_put_all(worker, items))
    await asyncio.sleep(0.05)
    assert not feeder.done()  # held back by bytes, far below queue_size
    assert worker.congested
    assert worker.queued_bytes < 65536 + items[0].size
    client.open.set()
    await asyncio.wait_for(feeder, 10)
    assert await worker.drain(timeout=10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert worker.stats.delivered == 40 and progress.committed == 400
    assert worker.queued_bytes == 0


async def _put_all(worker: SinkWorker, items: list[Item]) -> None:
    for item in items:
        await worker.put(item)


async def test_spooled_errors_never_hold_the_webhook_token(tmp_path: Path) -> None:
    url = URL.post_url

    class Failing:
        async def execute(self, *_: Any, **__: Any) -> Response:
            return Response(502, 0.0, {}, {"message": f"upstream {url} said secret-token"})

    worker = _worker(Failing(), tmp_path, max_attempts=1)
    event = Event(None, Level.ERROR, "boom", offset=5)
    await worker.put(Item(event))
    task = asyncio.create_task(worker.run())
    assert await worker.drain(timeout=10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    worker.spool.close()
    (record,) = [r for path in segments(tmp_path / "spool") for r in read_segment(path)]
    assert record.error and "secret-token" not in record.error and "/****" in record.error


# -- logship's own log ------------------------------------------------------------------


def test_a_source_matching_the_own_log_is_a_config_error(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    own = logs / "logship.log"
    own.write_text("")
    data = {"sources": [{"name": "other", "paths": [str(tmp_path / "x" / "*.log")]},
                        {"name": "all", "paths": [str(logs / "*.log")]}]}
    config = parse_config(data, tmp_path / "config.toml", {})
    st = os.stat(own)
    with pytest.raises(ConfigError) as raised:
        check_sources(config, OwnLog(st.st_dev, st.st_ino, None))  # by identity
    assert raised.value.key == "sources[1].paths" and str(own) in raised.value.problem
    linked = tmp_path / "link.log"
    linked.symlink_to(own)
    with pytest.raises(ConfigError):  # by its resolved name
        check_sources(config, OwnLog(0, 0, str(linked)))
    excluded = parse_config({"sources": [{"name": "all", "paths": [str(logs / "*.log")],
                                          "exclude": ["logship.log"]}]},
                            tmp_path / "config.toml", {})
    check_sources(excluded, OwnLog(st.st_dev, st.st_ino, str(own)))
    check_sources(config, None)  # stderr is no file: nothing to check


def test_own_log_lines_never_show_a_webhook_token(capsys: pytest.CaptureFixture[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter("%(message)s"))
    logger = logging.getLogger("test.scrub")
    logger.addHandler(handler)
    logger.propagate = False  # only this handler: other tests may have set up the root's
    try:
        try:
            raise RuntimeError(f"cannot reach {URL.post_url}")
        except RuntimeError:
            logger.exception("POST %s failed", URL.post_url)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    err = capsys.readouterr().err
    assert "secret-token" not in err and err.count("webhooks/123456789012345678/****") == 2
    assert scrub_tokens("Webhooks/1/abc and x", "zzz") == "Webhooks/1/**** and x"


def test_the_new_keys_parse_with_their_defaults(tmp_path: Path) -> None:
    data = {"spool": {"redact": False},
            "sources": [{"name": "bot", "paths": ["/x/*.log"], "max_event_bytes": 8192}],
            "sinks": {"errors": {"url": URL.post_url, "queue_max_bytes": 1 << 20,
                                 "max_file_bytes": 4096, "max_request_bytes": 1 << 20}}}
    config = parse_config(data, tmp_path / "c.toml", {})
    assert config.spool.redact is False and config.sources[0].max_event_bytes == 8192
    errors = config.sinks["errors"]
    assert (errors.queue_max_bytes, errors.options.max_file_bytes,
            errors.options.max_request_bytes) == (
        1 << 20, 4096, 1 << 20)
    assert any("redact = false" in line for line in warnings(config))
    default = parse_config({}, tmp_path / "c.toml", {})
    assert default.spool.redact is True and warnings(default) == []
    with pytest.raises(ConfigError) as raised:
        parse_config({"spool": {"redact": "no"}}, tmp_path / "c.toml", {})
    assert raised.value.key == "spool.redact"


def test_a_reload_that_would_read_the_own_log_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logship import daemon as daemon_module
    from logship.config import load_config

    own = tmp_path / "logs" / "logship.log"
    own.parent.mkdir()
    own.write_text("")
    config_path = tmp_path / "config.toml"
    config_path.write_text(f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n'
                           f'[[sources]]\nname = "bot"\npaths = ["{tmp_path}/other/*.log"]\n')
    running = daemon_module.Daemon(load_config(config_path), handle_signals=False)
    st = os.stat(own)
    monkeypatch.setattr(daemon_module, "own_log_file",
                        lambda: OwnLog(st.st_dev, st.st_ino, str(own)))
    config_path.write_text(config_path.read_text().replace("other/*.log", "logs/*.log"))
    running.reload()
    assert running.config.sources[0].paths == (f"{tmp_path}/other/*.log",)
    running.history.close()
    running.spool.close()
