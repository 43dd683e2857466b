"""A Discord webhook as a sink: what the worker's batches look like there, and what
Discord's answers mean.

- `batch`: full embeds, as many as one message carries (10 embeds, 6000 characters, the
  request's files within `max_request_bytes`), while the backlog clears at full detail
  within `digest_after` seconds at the budget the webhook has now (`RateLimiter.time_for`);
  past that, digests: a line per event, every event attached in full (`events.log`).
  Criticals go in full whenever the budget can carry them so, whatever waits behind. A
  storm's notice goes first, alone; a storm summary alone, its events attached.
- `send`: `?wait=true` (a 200 with a message object is the only proof of delivery), the
  budget's windows fed with Discord's `X-RateLimit-*` headers.
- `repair` after a 400: never the same bytes again: drop a refused username or avatar,
  split the batch, send a summary's events on their own, render a refused event plainly;
  what Discord still refuses is dead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from logship.config import RouteConfig, SinkConfig
from logship.event import Event, Level
from logship.redact.scrub import scrub_tokens
from logship.sinks.base import Answer, Outcome, Preview, Repair, SinkContext
from logship.sinks.discord import compiled_templates
from logship.sinks.discord.client import Outcome as HttpOutcome
from logship.sinks.discord.client import Response, WebhookClient
from logship.sinks.discord.options import DiscordOptions
from logship.sinks.discord.ratelimit import RateLimiter, RateLimits
from logship.sinks.discord.render import EMBEDS_MAX, Attachment, Embed, Renderer, build_payload
from logship.sinks.worker import Batch, Item

_OUTCOMES = {
    HttpOutcome.DELIVERED: Outcome.DELIVERED,
    HttpOutcome.RATE_LIMITED: Outcome.RATE_LIMITED,
    HttpOutcome.RETRY: Outcome.RETRY,
    HttpOutcome.REJECTED: Outcome.REJECTED,
    HttpOutcome.GONE: Outcome.GONE,
}


class DiscordSink:
    """One `[sinks.NAME]` of `type = "discord"`: a webhook, its budget, its renderer."""

    def __init__(self, config: SinkConfig, context: SinkContext, *,
                 client: WebhookClient | None = None, limiter: RateLimiter | None = None
                 ) -> None:
        self.config = config
        self.options: DiscordOptions = config.options
        self._context = context
        self._client = client  # made when first needed (a preview needs none)
        self.limiter = limiter or self._limiter(context)
        self.renderer = _renderer(config, context)
        self.plain_profile = False  # Discord refused the username or avatar: send without

    def _limiter(self, context: SinkContext) -> RateLimiter:
        """This webhook's budgets, its channel's shared with the other sinks of it; in a
        cluster, shared with every sidecar through Redis (and, while Redis is down, each
        host's `fallback_share` of them)."""
        limits: RateLimits = context.one("discord.rate_limits", RateLimits)
        options = self.options
        link = context.cluster
        share = link.config.fallback_share if link is not None else 1.0
        local = limits.limiter(
            channel=options.channel_key,
            webhook_requests=max(1, int(options.webhook_requests * share)),
            webhook_window=options.webhook_window,
            channel_messages=max(1, int(options.channel_messages * share)),
            channel_window=options.channel_window, webhook=options.url.webhook_id)
        if link is None:
            return local
        from logship.cluster.budget import SharedLimiter

        return SharedLimiter(  # type: ignore[return-value]
            link, local, webhook=options.url.webhook_id, channel=options.channel_key,
            webhook_requests=options.webhook_requests, webhook_window=options.webhook_window,
            channel_messages=options.channel_messages, channel_window=options.channel_window)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def client(self) -> WebhookClient:
        if self._client is None:
            self._client = WebhookClient(_session(self._context), timeout=self.options.timeout)
        return self._client

    @property
    def target(self) -> str:
        return self.options.url.masked

    @property
    def channel_key(self) -> str:
        """What its channel budget is shared by (and, in a cluster, its backlog)."""
        return self.options.channel_key

    @property
    def carries_files(self) -> bool:
        return self.options.files

    def reconfigure(self, config: SinkConfig, context: SinkContext) -> None:
        self.config, self.options = config, config.options
        self._client = None  # (its timeout may have changed)
        self.renderer = _renderer(config, context)

    def close(self) -> None:
        """The HTTP session is the context's: nothing of its own to close."""

    def preview(self, item: Item) -> Preview:
        from logship.sinks.discord.preview import preview

        return preview(self, item)

    def preview_backlog(self, items: Sequence[Item]) -> list[str]:
        from logship.sinks.discord.preview import backlog

        return backlog(self, items)

    def rehearsal(self, limits: RateLimits) -> DiscordSink:
        """This sink as it is configured (options, routes, templates, privacy), its budget
        made of `limits` (a clock of the caller's): it sends nothing, it batches."""
        return DiscordSink(self.config, replace(self._context, shared={
            **self._context.shared, "discord.rate_limits": limits}))

    def route(self, name: str | None) -> RouteConfig | None:
        return self.renderer.route(name)

    def scrub(self, text: str) -> str:
        return scrub_tokens(text, self.options.url.token)

    def attach_events(self, events: Sequence[Event]) -> list[tuple[tuple[Any, ...], int]]:
        return self.renderer.event_logs(events)

    # -- batches ------------------------------------------------------------------

    def batch(self, pending: Sequence[Item], backlog: int) -> Batch:
        """Full embeds while the backlog clears at full detail within `digest_after`
        seconds; digests past that, except for criticals the budget can carry in full. A
        storm's notice goes first, alone (a warning: it must not wait behind the errors
        it announces); then a storm summary, alone: its files are the events it counts
        (a digest has no room for them), and its delivery resolves them all.

        The request this batch goes in has its place in the budget already (the worker
        acquired it); `backlog` counts every event waiting, `pending` first."""
        storm = next((item for item in pending if _storm_notice(item)), None)
        if storm is None:
            storm = next((item for item in pending if item.counted), None)
        if storm is not None:
            return Batch([storm])
        backlog = max(backlog, len(pending))
        count = self._in_full(pending, backlog)
        if count == 0 and pending[0].event.level >= Level.CRITICAL:
            criticals = [it for it in pending if it.event.level >= Level.CRITICAL]
            count = self._in_full(criticals, len(criticals))
        if count:
            return Batch(list(pending[:count]))
        return self._digest(pending)

    def _in_full(self, leading: Sequence[Item], backlog: int) -> int:
        """How many of the `leading` items this message carries in full, when a backlog
        of `backlog` events (they first) clears at full detail within `digest_after`;
        0 when it does not (a digest then).

        How many messages the backlog takes at full detail comes from the embeds of
        the leading events: as many events per message as the first message packs.
        Embeds are rendered one by one, only while the answer depends on them: none
        when even 10 events per message would be too slow, and no more than one
        message's worth (and the one that does not fit) otherwise."""
        if not self._clears(backlog, EMBEDS_MAX):
            return 0
        decided = self._clears(backlog, 1)  # one message per event is fast enough
        embeds: list[Embed] = []
        for item in leading[:EMBEDS_MAX]:
            embeds.append(self._embed(item))
            fit = self.renderer.pack(embeds)
            if fit < len(embeds):
                break  # the message is full
            decided = decided or self._clears(backlog, fit)
        count = self.renderer.pack(embeds)
        return count if decided or self._clears(backlog, count) else 0

    def _clears(self, backlog: int, per_message: int) -> bool:
        """True when `backlog` events, `per_message` to a message, go out within
        `digest_after` seconds at the budget as it is now (this message's place in it
        is taken already)."""
        messages = -(-backlog // max(1, per_message))
        return self.limiter.time_for(messages - 1) <= self.options.digest_after

    def rebatch(self, items: Sequence[Item], like: Batch) -> Batch:
        """`items` made the way `like` was; a digest may take fewer of them (its lines
        and files are re-made): the worker puts the others back."""
        return self._digest(items) if like.digest else Batch(list(items))

    def _digest(self, candidates: Sequence[Item]) -> Batch:
        """A digest of as many leading `candidates` as one message holds: their lines,
        and each of them in full in its `events.log` (with `files`)."""
        embeds, count = self.renderer.digest([it.event for it in candidates])
        return Batch(list(candidates[:max(1, count)]), digest=True, body=embeds)

    def _embed(self, item: Item) -> Embed:
        """The item's embed as this sink shows it (template, privacy, kind layout), with
        its own files (a summary's events: even the plain repair keeps them), made once."""
        if item.plain:
            return _with_files(self.renderer.minimal(item.event), item.files)
        if item.rendered is None:
            item.rendered = _with_files(self.renderer.embed(item.event, item.route),
                                        item.files)
        embed: Embed = item.rendered
        return embed

    # -- sending ------------------------------------------------------------------

    async def send(self, batch: Batch) -> Answer:
        if batch.message is None:
            embeds = batch.body if batch.digest else [self._embed(it) for it in batch.items]
            batch.message = self.renderer.payload(embeds, [it.route for it in batch.items],
                                                  plain_profile=self.plain_profile)
        message = batch.message
        try:
            response = await self.client.execute(self.options.url, message.body,
                                                 files=message.files,
                                                 thread_id=self.options.thread_id)
        except asyncio.CancelledError:
            self.limiter.completed({})
            raise
        self.limiter.completed(response.headers)
        return self.answer(response)

    def answer(self, response: Response) -> Answer:
        """Discord's answer in the worker's terms."""
        return Answer(
            outcome=_OUTCOMES[response.outcome], status=response.status,
            reason=self.scrub(response.describe()),
            message_id=str(response.body["id"]) if response.outcome is HttpOutcome.DELIVERED
            else None,
            retry_after=response.retry_after, is_global=response.is_global,
            scope=response.headers.get("X-RateLimit-Scope"), timed_out=response.timed_out,
            latency=response.latency, headers=response.rate_limit_headers(),
            detail=response)

    def repair(self, batch: Batch, answer: Answer) -> Repair:
        """A 400: change what is sent (never the same bytes again), or give up."""
        response: Response = answer.detail
        if response is not None and response.names_profile() and not self.plain_profile:
            self.plain_profile = True  # a sink's fault, not an event's: all go without
            return Repair(retry=Batch(batch.items, batch.digest, batch.body), note=(
                "Discord refuses its username or avatar; sending without them"))
        items = batch.items
        if len(items) > 1:
            half = len(items) // 2
            retry = self.rebatch(items[:half], batch)
            left = [it for it in items[:half] if it not in retry.items]
            return Repair(retry=retry, requeue=[*left, *items[half:]],
                          note=f"Discord refused a batch of {len(items)}; sending it split")
        (item,) = items
        if item.counted:
            return Repair(retry=Batch([item.without_counted()]), requeue=item.counted,
                          note=f"Discord refused a storm summary with its {len(item.counted)} "
                               "events attached; sending them on their own")
        if batch.digest or not item.plain:
            item.plain = True
            return Repair(retry=Batch(items), note="Discord refused an event; sending it "
                                                   "plainly")
        return Repair(dead=items, note="Discord refused an event for good")

    # -- editing (noise control) ----------------------------------------------------

    async def edit(self, message_id: str, event: Event) -> Answer | None:
        """Show `event` in the message `message_id` sent earlier; None when messages of
        this sink cannot be edited (each opened a forum post whose id is not kept)."""
        if self.options.thread_name:
            return None
        embed = self.renderer.embed(event)
        payload = (build_payload([], content=embed.text) if embed.text is not None
                   else build_payload([embed]))
        await self.limiter.acquire("edit")
        try:
            response = await self.client.edit_message(self.options.url, message_id, payload,
                                                       thread_id=self.options.thread_id)
        except asyncio.CancelledError:
            self.limiter.completed({}, "edit")
            raise
        self.limiter.completed(response.headers, "edit")
        answer = self.answer(response) if response.status != 200 else Answer(
            Outcome.DELIVERED, response.status, message_id=message_id)
        if answer.outcome is Outcome.RATE_LIMITED:
            self.limiter.rate_limited(answer.retry_after, answer.is_global, answer.scope,
                                      "edit")
        return answer


def _storm_notice(item: Item) -> bool:
    """A storm's notice ("storm on", "storm over") with no events to carry."""
    event = item.event
    return not item.counted and event.source == "logship" and "storm" in event.fields


def _with_files(embed: Embed, files: tuple[Attachment, ...]) -> Embed:
    if not files:
        return embed
    return Embed(embed.data, embed.size, embed.files + files, embed.text)


def _session(context: SinkContext) -> Any:
    """The process's HTTP session for Discord, opened by the first Discord sink."""
    import aiohttp

    return context.one("discord.session", aiohttp.ClientSession)


def _renderer(config: SinkConfig, context: SinkContext) -> Renderer:
    whole = context.config
    if whole is None:
        return Renderer(config, None, context.host, (), redactor=context.redactor)
    templates = context.one("discord.templates", lambda: compiled_templates(whole))
    return Renderer(config, templates, context.host, whole.routes, redactor=context.redactor)
