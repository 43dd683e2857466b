"""One sink's view of rendering: `Renderer`, what the delivery worker asks.

A `Renderer` holds a sink's options (plain text instead of embeds, files, thread name,
silent messages, privacy), the routes that send to it (their templates and mentions)
and the redactor for events the spool kept raw. It turns events into embeds (a default
layout or the route's template), digests and `events.log` files, decides how many go
in one message, and makes the request.

Everything here is a pure function of its arguments: no I/O, no clock, no environment.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from logship.event import Event
from logship.sinks.discord.render.digest import digest_embeds, render_digest
from logship.sinks.discord.render.embed import (
    Attachment,
    Embed,
    capped_file,
    embed_text,
    fit_embed,
    traceback_file,
)
from logship.sinks.discord.render.eventlog import event_log_files, log_entry
from logship.sinks.discord.render.layouts import KINDS, render_embed, render_minimal
from logship.sinks.discord.render.limits import (
    BODY_RESERVE,
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBEDS_MAX,
    SUPPRESS_NOTIFICATIONS,
    TOTAL_MAX,
)
from logship.sinks.discord.render.message import (
    Message,
    build_payload,
    mention_parts,
    numbered_files,
    pack,
)
from logship.sinks.discord.render.text import CODE_CLOSE, CODE_OPEN, code_text

if TYPE_CHECKING:
    from logship.config import RouteConfig, SinkConfig
    from logship.redact import Redactor


# What plain text adds around an embed's own characters (bold title, field labels, the
# footer line and its time): the room left for a default layout in a 2000 message.
TEXT_OVERHEAD = 240


class TemplateSet(Protocol):
    """What `Renderer` needs of `logship.sinks.discord.templates.Templates`."""

    def __contains__(self, name: object) -> bool: ...

    def render(self, name: str, event: Event, *, host: str | None, route: str | None,
               sink: str | None, attached: bool, default: Callable[[str | None], Embed]
               ) -> dict[str, Any]: ...

    def failed(self, name: str, event: Event, error: Exception) -> None: ...


class Renderer:
    """Everything one sink's messages look like: embeds (default layouts or the route's
    template), digests, packing, and the request body with its files.

    The delivery worker makes one per sink and asks it, in this order:
    `embed(event, route)` for each event (cache it), `pack(embeds)` for how many go in
    one message (or `digest(events)` for a backlog), then `payload(embeds, routes)` for
    the body and files to send (`WebhookClient.execute(url, body, files=files,
    thread_id=sink.thread_id)`). `minimal(event)` is the plain repair rendering.

    The sink's options: `username`, `avatar_url`, `thread_name` (a new forum post per
    message), `embeds` (False: plain text messages), `suppress_notifications`, `files`
    (attach tracebacks too long for an embed), `privacy` (applied to every event
    first). `routes` (those that send to this sink) lets plain text keep room for their
    mentions.
    """

    def __init__(self, sink: SinkConfig, templates: TemplateSet | None = None,
                 host: str | None = None, routes: Iterable[RouteConfig] = (), *,
                 redactor: Redactor | None = None) -> None:
        self.sink = sink
        # secrets out of every event shown, whatever the spool kept (spool.redact = false)
        self.redactor = redactor
        # id(event) -> (a weak reference to it, its shown copy; None: the event itself)
        self._shown: dict[int, tuple[weakref.ref[Event], Event | None]] = {}
        self.templates = templates
        self.host = host
        # told (template name, event, error) when a template fails on an event
        self.on_template_error: Callable[[str, Event, Exception], None] | None = None
        options = self.options = sink.options  # a DiscordOptions
        self.text = not options.embeds
        self.files = options.files
        self.flags = SUPPRESS_NOTIFICATIONS if options.suppress_notifications else None
        self.thread_name = options.thread_name
        self.privacy = sink.privacy  # member ids and names, as this sink may show them
        # bytes: one request's files, and one file (Discord answers 413 past its limit)
        self.files_room = max(0, options.max_request_bytes - BODY_RESERVE)
        self.file_max = min(options.max_file_bytes, self.files_room)
        routes = tuple(routes)
        self.routes = {route.name: route for route in routes}
        mentions = [m for route in routes if sink.name in route.sinks for m in route.mention]
        prefix, _ = mention_parts(mentions)
        # plain text: one message's characters for events, after the mentions' line
        self.text_limit = CONTENT_MAX - (len(prefix) + 1 if prefix else 0)
        self.room = self.text_limit - TEXT_OVERHEAD if self.text else TOTAL_MAX

    # -- one event

    def route(self, name: str | None) -> RouteConfig | None:
        """The route called `name` as configured now (a spooled event names the route it
        came through; a replay or drain renders it with that route's template)."""
        return self.routes.get(name) if name is not None else None

    def embed(self, event: Event, route: RouteConfig | None = None) -> Embed:
        """The event as this sink shows it, through `route`'s template if it names one.
        A template that fails on the event gives the default layout (and is counted)."""
        event = self.shown(event)
        name = route.template if route is not None else None
        embed = None
        if name is not None and name not in KINDS:
            templates = self.templates
            if templates is not None and name in templates:
                assert route is not None
                embed = self._templated(templates, name, event, route)
            elif templates is not None:
                templates.failed(name, event, LookupError(f"unknown template {name!r}"))
        if embed is None:
            kind = name if name in KINDS else None
            embed = render_embed(event, self.host, kind=kind, files=self.files, room=self.room)
        return self._finish(embed)

    def _templated(self, templates: TemplateSet, name: str, event: Event, route: RouteConfig
                   ) -> Embed | None:
        exception = event.exception
        attached = bool(self.files and exception and exception.strip() and len(
            code_text(exception)) > DESCRIPTION_MAX - len(CODE_OPEN + CODE_CLOSE))

        def default(kind: str | None) -> Embed:
            return render_embed(event, self.host, kind=kind)

        try:
            data = templates.render(name, event, host=self.host, route=route.name,
                                    sink=self.sink.name, attached=attached, default=default)
            files = (traceback_file(exception or "", data.get("title") or ""),) if attached else ()
            return fit_embed(data, files)
        except Exception as error:  # a template's own bug, whatever it is: fall back
            templates.failed(name, event, error)
            if self.on_template_error is not None:
                self.on_template_error(name, event, error)
            return None

    def minimal(self, event: Event) -> Embed:
        """The plain rendering for an event Discord refused as rendered."""
        return self._finish(render_minimal(self.shown(event), self.host))

    def shown(self, event: Event) -> Event:
        """`event` as this sink may show it: redacted, its privacy settings applied (a
        copy; the event itself when there is nothing to change).

        Worked out once per event: its embed, the digests it is listed in, the
        `events.log` of a storm summary and the plain repair all show the same copy. The
        copy is remembered as long as the event lives, not longer (a weak reference to
        the event drops it): events come and go by the hundred thousand a second.
        """
        if self.redactor is None and self.privacy is None:
            return event
        key = id(event)
        known = self._shown.get(key)
        if known is not None and known[0]() is event:
            return event if known[1] is None else known[1]
        view = event
        if self.redactor is not None:
            view = self.redactor.redact_event(view)
        if self.privacy is not None:
            view = self.privacy.apply(view)
        forget = partial(self._forget, key)
        self._shown[key] = (weakref.ref(event, forget), None if view is event else view)
        return view

    def _forget(self, key: int, gone: weakref.ref[Event]) -> None:
        """Drop what `shown` remembered of an event that no longer lives."""
        known = self._shown.get(key)
        if known is not None and known[0] is gone:
            del self._shown[key]

    def _finish(self, embed: Embed) -> Embed:
        if any(len(f.data) > self.file_max for f in embed.files):
            embed = Embed(embed.data, embed.size,
                          tuple(capped_file(f, self.file_max) for f in embed.files), embed.text)
        if not self.text:
            return embed
        text = embed_text(embed.data, self.text_limit)
        return Embed(embed.data, embed.size, embed.files, text)

    # -- messages

    def digest(self, events: Sequence[Event]) -> tuple[list[Embed], int]:
        """Digest embeds (one line per event) for as many leading `events` as one
        message holds, and how many they took. With files, the first embed carries
        every one of them in full (`events.log`, as `event_logs` makes it): as many as
        its lines and its files can carry, the rest left for the next message."""
        shown = [self.shown(e) for e in events]
        embeds, taken = self._digest_lines(shown)
        if not (self.files and taken):
            return embeds, taken
        files, held = self.event_logs(events[:taken])[0]
        if held < taken:  # the files hold fewer (Discord's 10 files, max_request_bytes)
            embeds, taken = self._digest_lines(shown[:held])
        first = embeds[0]
        embeds[0] = Embed(first.data, first.size, first.files + files, first.text)
        return embeds, taken

    def _digest_lines(self, events: Sequence[Event]) -> tuple[list[Embed], int]:
        if not self.text:
            return digest_embeds(events)
        # 5: "**", "**", "\n"; a plain message lists every level in its one text
        embed, taken = render_digest(events, self.text_limit - 5, one_level=False)
        text = f"**{embed.data['title']}**\n{embed.data['description']}"
        return [Embed(embed.data, embed.size, (), text)], taken

    def event_logs(self, events: Sequence[Event]) -> list[tuple[tuple[Attachment, ...], int]]:
        """Every one of `events` in full (`log_entry`) as this sink shows them (redacted,
        its privacy applied), as `events.log` files within this sink's limits, message
        by message: each message's files and how many of the leading events they hold
        (see `event_log_files`)."""
        entries = [log_entry(self.shown(event)).encode("utf-8", "replace") for event in events]
        return event_log_files(entries, self.file_max, self.files_room)

    def pack(self, embeds: Sequence[Embed]) -> int:
        """How many of the leading `embeds` one message carries (at least one): within
        Discord's limits, and their files within `max_request_bytes`."""
        count = self._files_fit(embeds)
        if count < len(embeds):
            embeds = embeds[:count]
        if not self.text:
            return pack(embeds)
        count, used = 0, -2
        for embed in embeds[:EMBEDS_MAX]:
            used += len(embed.text if embed.text is not None else "") + 2  # "\n\n" between
            if used > self.text_limit and count:
                break
            count += 1
        return count

    def _files_fit(self, embeds: Sequence[Embed]) -> int:
        """How many leading `embeds` have files that fit one request (at least one)."""
        if not self.files:
            return len(embeds)
        used = 0
        for count, embed in enumerate(embeds):
            used += sum(len(f.data) for f in embed.files)
            if used > self.files_room and count:
                return count
        return len(embeds)

    def payload(self, embeds: Sequence[Embed],
                routes: RouteConfig | Iterable[RouteConfig | None] | None = None,
                *, plain_profile: bool = False) -> Message:
        """The request for one message carrying `embeds` (from `pack` or `digest`) for
        events that came through `routes` (one route, or one per event): their mentions
        lead the content, and only they may ping. `plain_profile` leaves out the sink's
        username and avatar (after Discord refused them)."""
        if routes is None:
            routes = ()
        elif not isinstance(routes, Iterable):
            routes = (routes,)
        prefix, allowed = mention_parts(
            m for route in routes if route is not None for m in route.mention)
        files = numbered_files(embeds, self.files_room) if self.files else ()
        if self.text:
            texts = "\n\n".join(e.text if e.text is not None else
                                 embed_text(e.data, self.text_limit) for e in embeds)
            content: str | None = f"{prefix}\n{texts}" if prefix else texts
            embeds = ()
        else:
            content = prefix or None
        body = build_payload(
            embeds,
            username=None if plain_profile else self.options.username,
            avatar_url=None if plain_profile else self.options.avatar_url,
            allowed_mentions=allowed, content=content, thread_name=self.thread_name,
            flags=self.flags, files=files)
        return Message(body, files)
