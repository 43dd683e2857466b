"""Default embeds per kind, sink options, mentions and files: every body Discord accepts.

"Accepts" is `discord_schema.execute_webhook_errors` (Discord's OpenAPI schema plus the
limits it misses), and for requests that really go out, the emulator's own check.
"""

from __future__ import annotations

import dataclasses
import gc
import re
import weakref
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.config import RouteConfig, SinkConfig
from logship.emulator import FakeDiscord, payload_errors
from logship.event import Event, Level
from logship.parse.kinds import classify
from logship.sinks.discord.client import Outcome, WebhookClient
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.render import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    FILES_MAX,
    SUPPRESS_NOTIFICATIONS,
    TOTAL_MAX,
    Embed,
    Message,
    Renderer,
    render_embed,
)
from logship.sinks.discord.render.embed import embed_text
from logship.sinks.discord.render.message import mention_parts
from logship.sinks.discord.render.text import fit_text
from logship.sinks.discord.url import WebhookURL
from tests.discord_schema import embed_size, execute_webhook_errors

TS = datetime(2025, 7, 15, 20, 42, 7, 902000, tzinfo=UTC)
URL = WebhookURL.parse("http://127.0.0.1:9/api/webhooks/123456789012345678/token")
ROLE = "111111111111111111"
USER = "222222222222222222"
FRAMES = 400
HUGE_TRACEBACK = (
    "Traceback (most recent call last):\n"
    + "".join(f'  File "/opt/StatsBot/src/m{i}.py", line {i}, in f{i}\n    f{i + 1}()\n'
              for i in range(FRAMES))
    + "discord.errors.HTTPException: 503 Service Unavailable (error code: 0): upstream"
)


def event(message: str = "Failed to update heartbeat", **options: Any) -> Event:
    values: dict[str, Any] = dict(ts=TS, level=Level.ERROR, message=message,
                                  logger="monitoring", source="statsbot")
    return Event(**(values | options))


def sink(**options: Any) -> SinkConfig:
    return discord_sink(**({"name": "alerts", "url": URL} | options))


def route(**options: Any) -> RouteConfig:
    return RouteConfig(**({"name": "errors", "sinks": ("alerts",)} | options))


def assert_valid(message: Message | dict[str, Any]) -> None:
    body, files = message if isinstance(message, Message) else (message, ())
    errors = execute_webhook_errors(body) + payload_errors(body, files=len(files))
    assert errors == [], errors
    assert len(files) <= FILES_MAX
    assert len(body.get("content") or "") <= CONTENT_MAX
    assert (body.get("content") or "").count("```") % 2 == 0
    for embed in body.get("embeds") or ():
        assert (embed.get("description") or "").count("```") % 2 == 0
        assert all(f["value"].count("```") % 2 == 0 for f in embed.get("fields") or ())


def fields_of(embed: Embed) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.data.get("fields", [])}


# -- error -----------------------------------------------------------------------------


def test_error_embed() -> None:
    trace = ("Traceback (most recent call last):\n  File \"m.py\", line 3, in beat\n"
             "    await post()\ndiscord.errors.HTTPException: 503 Service Unavailable")
    embed = render_embed(event("Failed to update heartbeat\nwhile posting", kind="error",
                               exception=trace, fields={"service": "monitoring", "n": 3}),
                         host="bot-1")
    data = embed.data
    assert data["title"] == "🔴 ERROR · HTTPException: Failed to update heartbeat"
    assert data["description"] == f"while posting\n\n```py\n{trace}\n```"
    assert data["color"] == 0xE74C3C
    assert data["timestamp"] == "2025-07-15T20:42:07.902000+00:00"
    assert data["fields"] == [{"name": "Service", "value": "monitoring", "inline": True},
                              {"name": "n", "value": "3", "inline": True}]
    assert data["footer"] == {"text": "statsbot · monitoring · bot-1"}
    assert embed.files == ()
    assert_valid({"embeds": [data]})


def test_error_embed_without_a_traceback_uses_what_the_fields_say() -> None:
    data = render_embed(event(kind="error", logger=None, level=Level.CRITICAL,
                              fields={"error": "TimeoutError: no answer in 10 s"})).data
    assert data["title"] == "🚨 CRITICAL · TimeoutError: Failed to update heartbeat"
    assert data["color"] == 0x8B0000
    assert data["fields"] == [{"name": "error", "value": "TimeoutError: no answer in 10 s",
                               "inline": True}]
    # StructuredLogger keeps its traceback in the context: it becomes the code block
    data = render_embed(event(kind="error", fields={"traceback": "Traceback:\nKeyError: 'id'",
                                                    "error_type": "KeyError"})).data
    assert data["title"].startswith("🔴 ERROR · KeyError")
    assert data["description"].endswith("KeyError: 'id'\n```")
    assert fields_of(render_embed(event(kind="error", fields={"traceback": "x"}))) == {
        "Service": "monitoring"}


def test_a_traceback_too_long_for_the_embed_is_attached_whole() -> None:
    e = event(kind="error", exception=HUGE_TRACEBACK, fields={"service": "monitoring"})
    embed = render_embed(e, files=True)
    (attachment,) = embed.files
    assert attachment.filename == "traceback.txt"
    assert attachment.data.decode() == HUGE_TRACEBACK + "\n"
    assert attachment.description == "Traceback: " + embed.data["title"]
    assert fields_of(embed)["Full traceback"] == f"📎 attached as a file ({2 * FRAMES + 2} lines)"
    description = embed.data["description"]
    assert description.startswith("```py\n…\n")  # the last frames, whole lines
    first_kept = description.split("\n")[2]
    assert re.fullmatch(r'  File "/opt/StatsBot/src/m\d+\.py", line \d+, in f\d+|    f\d+\(\)',
                        first_kept)
    assert description.endswith("503 Service Unavailable (error code: 0): upstream\n```")
    assert len(description) <= DESCRIPTION_MAX
    # the sink says no files: the same cut traceback, nothing attached, no note
    plain = render_embed(e, files=False)
    assert plain.files == () and "Full traceback" not in fields_of(plain)
    # a traceback that fits is never attached
    assert render_embed(event(kind="error", exception="KeyError: 1"), files=True).files == ()


# -- performance ------------------------------------------------------------------------


@pytest.mark.parametrize(("ratio", "level", "color", "cells"), [
    (1.2, "WARNING", 0xFFBF00, 6), (1.5, "ERROR", 0xE74C3C, 8), (1.99, "ERROR", 0xE74C3C, 10),
    (2.0, "CRITICAL", 0x8B0000, 10), (3.4, "CRITICAL", 0x8B0000, 10),
])
def test_performance_severity_follows_the_ratio(ratio: float, level: str, color: int,
                                                cells: int) -> None:
    e = event("Slow operation detected: update_stats", level=Level.WARNING, kind="performance",
              fields={"metric": "update_stats", "value": 1000 * ratio, "threshold": 1000,
                      "ratio": ratio, "unit": "ms"})
    embed = render_embed(e)
    assert embed.data["title"].split()[1].rstrip(":") == level
    assert embed.data["color"] == color
    shown = fields_of(embed)
    assert shown["Metric"] == "update_stats"
    assert shown["Threshold"] == "1,000 ms"
    assert shown["Ratio"].startswith(f"{ratio:.2f}× " + "█" * cells + "░" * (10 - cells))
    assert shown["Ratio"].endswith(level.lower())
    assert list(shown) == ["Metric", "Value", "Threshold", "Ratio"]  # nothing shown twice
    assert_valid({"embeds": [embed.data]})


def test_performance_from_statsbot_fields() -> None:
    memory = render_embed(event("High memory usage: 84.12MB (threshold: 80.00MB)",
                                kind="performance", level=Level.WARNING,
                                fields={"memory_mb": 84.12, "threshold_mb": "80.00MB"}))
    assert fields_of(memory) == {"Metric": "memory", "Value": "84.12 MB",
                                 "Threshold": "80 MB", "Ratio": fields_of(memory)["Ratio"]}
    assert fields_of(memory)["Ratio"].startswith("1.05×")
    assert memory.data["color"] == 0xFFBF00
    slow = render_embed(event("Slow operation detected: update_stats took 2450.12ms",
                              kind="performance", level=Level.WARNING,
                              fields={"operation": "update_stats", "duration_ms": 2450.12}))
    assert fields_of(slow) == {"Metric": "update_stats (duration)", "Value": "2,450.12 ms"}
    assert slow.data["title"].startswith("🟠 WARNING: Slow operation")  # no ratio: its level


# -- member -----------------------------------------------------------------------------


def test_member_events_have_their_own_colours() -> None:
    embeds = {}
    for action, message in [("join", "Member join recorded: alice#0"),
                            ("leave", "⬅️ Member Leave"), ("ban", "🔨 Member Ban"),
                            ("unban", "Member unbanned")]:
        e = event(message, level=Level.INFO, kind="member",
                  fields={"member_id": "123456789012345678", "username": "alice#0",
                          "guild_id": "987654321098765432", "date": "2025-07-15"})
        embeds[action] = render_embed(e)
        assert embeds[action].data["title"].endswith(f"Member {action}: alice#0")
        assert fields_of(embeds[action]) == {"Member": "alice#0", "ID": "123456789012345678",
                                             "Guild ID": "987654321098765432",
                                             "Date": "2025-07-15"}
    assert len({e.data["color"] for e in embeds.values()}) == 4
    assert embeds["join"].data["color"] == 0x2ECC71


def test_member_with_the_parser_s_fields() -> None:
    e = event("Member banned", level=Level.INFO, kind="member",
              fields={"member_id": "123456789012345678", "member_name": "bob#0",
                      "guild_name": "Stats", "event_type": "ban"})
    embed = render_embed(e)
    assert embed.data["title"] == "🔨 Member ban: bob#0"
    assert embed.data["color"] == 0x992D22
    assert fields_of(embed) == {"Member": "bob#0", "ID": "123456789012345678", "Guild": "Stats"}


def test_performance_and_status_with_the_parser_s_fields() -> None:
    perf = render_embed(event("High memory usage: 84.12MB (threshold: 80.00MB)",
                              level=Level.WARNING, kind="performance",
                              fields={"memory_mb": 84.12, "threshold_mb": 80.0,
                                      "event_type": "high_usage", "metric": "memory",
                                      "value": 84.12, "unit": "MB", "threshold": 80.0,
                                      "ratio": 1.052}))
    assert fields_of(perf) == {"Metric": "memory", "Value": "84.12 MB", "Threshold": "80 MB",
                               "Ratio": "1.05× █████░░░░░ 🟠 warning", "memory_mb": "84.12",
                               "threshold_mb": "80.0"}
    for event_type, title in [("run_start", "🟢 Started"), ("run_end", "🔚 Stopped"),
                              ("heartbeat", "💓 Heartbeat"), ("reconnect_failed", "🔁 Reconnect")]:
        status = render_embed(event("Bot session", level=Level.INFO, kind="status",
                                    fields={"event_type": event_type, "run_id": "3F9A1C2B"}))
        assert status.data["title"] == f"{title}: Bot session"
        assert fields_of(status) == {"run_id": "3F9A1C2B"}


def test_the_sink_s_privacy_settings_apply_before_rendering() -> None:
    from logship.redact import Privacy, PrivacyConfig

    e = event("Member join recorded: alice#0", level=Level.INFO, kind="member",
              fields={"member_id": "123456789012345678", "member_name": "alice#0",
                      "event_type": "join"})
    renderer = Renderer(sink(privacy=Privacy(PrivacyConfig(ids="mask", usernames="drop"))))
    embed = renderer.embed(e)
    assert embed.data["title"] == "➡️ Member join"
    assert fields_of(embed) == {"ID": "1234…5678"}
    assert "alice" not in str(embed.data) and "123456789012345678" not in str(embed.data)
    (digest,), _ = renderer.digest([e])
    assert "alice" not in str(digest.data)
    assert "alice" not in str(renderer.minimal(e).data)


def test_an_event_is_redacted_and_masked_once_per_sink() -> None:
    # The embed, the digest and the storm summary's events.log of one sink all show the
    # same redacted, masked event: it is worked out once, not once per rendering.
    from logship.redact import Privacy, PrivacyConfig, RedactConfig, Redactor

    calls: Counter[str] = Counter()

    class CountingRedactor(Redactor):
        def redact_event(self, event: Event) -> Event:
            calls["redact"] += 1
            return super().redact_event(event)

    class CountingPrivacy(Privacy):
        def apply(self, event: Event) -> Event:
            calls["privacy"] += 1
            return super().apply(event)

    renderer = Renderer(sink(privacy=CountingPrivacy(PrivacyConfig(ids="mask"))),
                        redactor=CountingRedactor(RedactConfig()))
    e = event("login token=abcdefghijklmnopqrstuvwxyz012345 for 123456789012345678",
              fields={"member_id": "123456789012345678"})
    clean = event("nothing to hide here")
    embed = renderer.embed(e)
    (digest,), _ = renderer.digest([e, clean])
    ((log,), _), = renderer.event_logs([e])
    renderer.embed(clean)
    renderer.minimal(e)
    assert calls == {"redact": 2, "privacy": 2}  # e and clean, once each
    for shown in (str(embed.data), str(digest.data), log.data.decode()):
        assert "abcdefghijklmnopqrstuvwxyz012345" not in shown
        assert "123456789012345678" not in shown and "1234…5678" in shown
    # what the renderer remembers lives as long as the event, not longer
    gone = weakref.ref(e)
    del e, embed, digest, log
    gc.collect()
    assert gone() is None


def test_member_shows_only_what_privacy_left() -> None:
    # Privacy (a sink setting, applied before rendering) dropped the username, masked the id
    e = event("Member join recorded: [username]", level=Level.INFO, kind="member",
              fields={"member_id": "1234…5678", "action": "join"})
    embed = render_embed(e)
    assert embed.data["title"] == "➡️ Member join"
    assert fields_of(embed) == {"ID": "1234…5678"}
    assert "alice" not in str(embed.data)


# -- status and log ---------------------------------------------------------------------


@pytest.mark.parametrize(("message", "level", "title", "color"), [
    ("🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST", Level.INFO, "🟢 Started: ", 0x2ECC71),
    ("🔚 END OF SESSION", Level.INFO, "🔚 Stopped: ", 0x95A5A6),
    ("Heartbeat updated successfully", Level.INFO, "💓 Heartbeat: ", 0xE91E63),
    ("Reconnecting to the gateway", Level.WARNING, "🔁 Reconnect · WARNING: ", 0xFFBF00),
    ("Maximum reconnection attempts reached, bot will exit", Level.CRITICAL,
     "🔁 Reconnect · CRITICAL: ", 0x8B0000),
])
def test_status_events(message: str, level: Level, title: str, color: int) -> None:
    embed = render_embed(event(message, level=level, kind="status",
                               fields={"cpu": "0.3%", "threads": 12}))
    assert embed.data["title"].startswith(title)
    assert embed.data["color"] == color
    assert fields_of(embed) == {"cpu": "0.3%", "threads": "12"}


def test_events_no_parser_made_are_read_as_the_parser_reads_them() -> None:
    # One reading of a message, the parser's: the same message gets the same title whether
    # a parser made the event (with the fields it sets) or not (a spooled or synthetic
    # event, a template forcing a layout). A second set of rules read "disconnected" as a
    # stop, "Bot is online after reconnect" as a reconnect, and missed "Shutting down".
    for message, title in [("disconnected from voice", "🔁 Reconnect"),
                           ("Bot is online after reconnect", "🟢 Started"),
                           ("Shutting down", "🔚 Stopped")]:
        parsed = event(message, level=Level.INFO)
        parsed.kind = classify(parsed)
        bare = event(message, level=Level.INFO, kind="status")
        assert (parsed.kind, parsed.fields.keys()) == ("status", {"event_type"})
        assert render_embed(bare).data["title"] == render_embed(parsed).data["title"]
        assert render_embed(bare).data["title"] == f"{title}: {message}"
    leaving = render_embed(event("Member leaving the server", level=Level.INFO, kind="member"))
    assert leaving.data["title"] == "⬅️ Member leave"
    # logship's own storm summary lists the errors it counts: their words are not its status
    summary = event("⛈️ storm on alerts: 40 events in 30 s\n×38 Failed to update heartbeat\n"
                    "×2 Gateway disconnected", kind="status", source="logship",
                    fields={"storm": "alerts"})
    assert (render_embed(summary).data["title"]
            == "ℹ️ Status · ERROR: ⛈️ storm on alerts: 40 events in 30 s")


def test_unknown_kinds_render_as_plain_log() -> None:
    e = event("something\nelse", level=Level.INFO)
    expected = render_embed(e).data
    assert expected["title"] == "🔵 INFO: something"
    assert render_embed(dataclasses.replace(e, kind="weird")).data == expected


def test_descriptions_are_cut_on_line_boundaries() -> None:
    message = "title\n" + "\n".join(f"line {i:05d} " + "x" * 50 for i in range(200))
    description = render_embed(event(message, level=Level.INFO)).data["description"]
    assert len(description) <= DESCRIPTION_MAX
    *whole, last = description.split("\n")
    assert last == "…"
    assert all(re.fullmatch(r"line \d{5} x{50}", row) for row in whole)


# -- sink options -----------------------------------------------------------------------


def test_sink_options_reach_the_body() -> None:
    renderer = Renderer(sink(username="StatsBot logs", avatar_url="https://example.org/a.png",
                             thread_name="StatsBot errors", suppress_notifications=True))
    message = renderer.payload([renderer.embed(event())])
    body = message.body
    assert body["thread_name"] == "StatsBot errors"
    assert body["flags"] == SUPPRESS_NOTIFICATIONS == 4096
    assert body["username"] == "StatsBot logs"
    assert body["allowed_mentions"] == {"parse": []}
    assert message.files == ()
    assert_valid(message)
    plain = renderer.payload([renderer.embed(event())], plain_profile=True).body
    assert "username" not in plain and "avatar_url" not in plain


def test_files_of_several_events_are_numbered_by_embed() -> None:
    renderer = Renderer(sink())
    embeds = [renderer.embed(event(f"e{i}", kind="error",
                                   exception=HUGE_TRACEBACK if i != 1 else "KeyError: 1"))
              for i in range(3)]
    assert renderer.pack(embeds) == 3
    message = renderer.payload(embeds)
    assert [f.filename for f in message.files] == ["traceback-1.txt", "traceback-3.txt"]
    assert message.body["attachments"] == [
        {"id": "0", "filename": "traceback-1.txt", "description": f.description}
        for f in message.files[:1]] + [
        {"id": "1", "filename": "traceback-3.txt", "description": message.files[1].description}]
    assert_valid(message)
    assert Renderer(sink(files=False)).embed(embeds and event(exception=HUGE_TRACEBACK)).files == ()


def test_plain_text_sink() -> None:
    renderer = Renderer(sink(embeds=False), routes=[route(mention=(f"<@&{ROLE}>",))])
    embeds = [renderer.embed(event(f"event {i}", kind="error", exception=HUGE_TRACEBACK,
                                   fields={"n": i})) for i in range(5)]
    for embed in embeds:
        assert embed.text is not None and len(embed.text) <= renderer.text_limit
        assert embed.text.startswith("**🔴 ERROR · HTTPException: event")
        assert "503 Service Unavailable (error code: 0): upstream\n```" in embed.text  # tail kept
    small = [renderer.embed(event(f"small {i}")) for i in range(20)]
    count = renderer.pack(small)
    assert 1 < count <= 10
    message = renderer.payload(small[:count], route(mention=(f"<@&{ROLE}>",)))
    assert "embeds" not in message.body
    assert message.body["content"].startswith(f"<@&{ROLE}>\n**🔴 ERROR: small 0**")
    assert message.body["content"].count("**🔴 ERROR: small") == count
    assert_valid(message)
    assert renderer.pack(embeds) == 1  # a long one fills a message on its own
    message = renderer.payload(embeds[:1], route(mention=(f"<@&{ROLE}>",)))
    assert [f.filename for f in message.files] == ["traceback.txt"]
    assert_valid(message)


def test_plain_text_digest_fits_one_message() -> None:
    renderer = Renderer(sink(embeds=False))
    events = [event(f"storm {i} " + "x" * 100) for i in range(500)]
    (digest,), taken = renderer.digest(events)
    assert 5 < taken < 500
    assert digest.text is not None and len(digest.text) <= CONTENT_MAX
    assert_valid(renderer.payload([digest]))
    embeds, taken = Renderer(sink()).digest(events)
    assert sum(e.size for e in embeds) <= TOTAL_MAX and taken > 30


def test_embed_text_keeps_fences_closed_and_the_limit() -> None:
    data = {"title": "t", "description": "```py\n" + "x = 1\n" * 1000 + "```",
            "fields": [{"name": f"f{i}", "value": "v" * 300} for i in range(25)]}
    for limit in (50, 300, 1000, 2000):
        text = embed_text(data, limit)
        assert len(text) <= limit
        assert text.count("```") % 2 == 0
    assert fit_text("a\n" * 10, 7) == "a\na\na\n…"


# -- mentions ---------------------------------------------------------------------------


def test_mention_parts() -> None:
    assert mention_parts([f"<@&{ROLE}>", f"<@!{USER}>", "@everyone", "@here", "<#1>"]) == (
        f"<@&{ROLE}> <@{USER}>", {"parse": [], "roles": [ROLE], "users": [USER]})
    text, allowed = mention_parts(f"<@&{n}>" for n in range(10**17, 10**17 + 300))
    assert len(text) <= 1000 and len(allowed["roles"]) <= 100


def test_only_the_routes_of_the_batch_mention() -> None:
    renderer = Renderer(sink())
    embeds = [renderer.embed(event("@everyone <@999999999999999999> down"))]
    quiet = renderer.payload(embeds, [None, route()])
    assert "content" not in quiet.body and quiet.body["allowed_mentions"] == {"parse": []}
    loud = renderer.payload(embeds, [route(mention=(f"<@&{ROLE}>",)),
                                     route(name="x", mention=(f"<@{USER}>", f"<@&{ROLE}>"))])
    assert loud.body["content"] == f"<@&{ROLE}> <@{USER}>"
    assert loud.body["allowed_mentions"] == {"parse": [], "roles": [ROLE], "users": [USER]}


# -- for real, against the emulator -----------------------------------------------------


@pytest.mark.parametrize("embeds", [True, False])
async def test_only_the_route_role_pings(fake: FakeDiscord, session: Any, embeds: bool) -> None:
    url = WebhookURL.parse(fake.webhook_url())
    ping_route = route(mention=(f"<@&{ROLE}>",))
    renderer = Renderer(sink(embeds=embeds, url=url), routes=[ping_route])
    client = WebhookClient(session)
    line = f"@everyone @here <@{USER}> <@&333333333333333333> the database is down"
    quiet = renderer.payload([renderer.embed(event(line))], route())
    loud = renderer.payload([renderer.embed(event(line))], ping_route)
    for message in (quiet, loud):
        assert (await client.execute(url, message.body)).outcome is Outcome.DELIVERED
    first, second = fake.messages
    assert first.pings == ()
    assert second.pings == (f"<@&{ROLE}>",)  # the route's role, and nothing the line says
    assert fake.stats.pings == 1


async def test_tracebacks_go_as_multipart_files_into_threads(fake: FakeDiscord,
                                                             session: Any) -> None:
    url = WebhookURL.parse(fake.webhook_url())
    renderer = Renderer(sink(thread_id="444444444444444444", url=url))
    embeds = [renderer.embed(event(f"e{i}", kind="error", exception=HUGE_TRACEBACK))
              for i in range(2)]
    message = renderer.payload(embeds)
    response = await WebhookClient(session).execute(url, message.body, files=message.files,
                                                    thread_id=renderer.options.thread_id)
    assert response.outcome is Outcome.DELIVERED, response.describe()
    (received,) = fake.messages
    assert received.files == ("traceback-1.txt", "traceback-2.txt")
    assert received.thread_id == "444444444444444444"
    assert received.payload["attachments"][0]["filename"] == "traceback-1.txt"
    assert response.body["channel_id"] == "444444444444444444"


async def test_text_sink_with_suppressed_notifications(fake: FakeDiscord, session: Any) -> None:
    url = WebhookURL.parse(fake.webhook_url())
    renderer = Renderer(sink(embeds=False, suppress_notifications=True, thread_name="errors",
                             url=url))
    message = renderer.payload([renderer.embed(event("boom", exception=HUGE_TRACEBACK))])
    response = await WebhookClient(session).execute(url, message.body, files=message.files)
    assert response.outcome is Outcome.DELIVERED, response.describe()
    assert response.body["flags"] == 4096
    assert fake.messages[0].payload["thread_name"] == "errors"


# -- the property: any event, any sink options ------------------------------------------

plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=120)
SPECIALS = ["```", "\n", "\r\n", "@everyone", f"<@{USER}>", "😀", "👍🏽", "\u200d", "\u0301",
            "…", "\ud83d", "\ude00", "\t", "\x00", "`"]
mixed = st.lists(st.one_of(plain_text, st.sampled_from(SPECIALS)), max_size=25).map("".join)
big = st.builds(lambda unit, times: unit * times, mixed, st.integers(1, 2500))
texts = st.one_of(plain_text, mixed, big)
numbers = st.one_of(st.integers(-10**6, 10**25), st.floats(allow_nan=True), texts)
kind_fields = st.fixed_dictionaries({}, optional={
    "value": numbers, "threshold": numbers, "ratio": numbers, "unit": plain_text,
    "metric": texts, "duration_ms": numbers, "memory_mb": numbers, "threshold_mb": numbers,
    "member_id": st.one_of(st.integers(0, 10**20), texts), "username": texts, "guild": texts,
    "guild_id": texts, "action": texts, "status": texts, "service": texts,
    "traceback": texts, "error": texts, "error_type": texts,
})
extra_fields = st.dictionaries(plain_text | big, st.none() | st.booleans() | texts, max_size=30)
offsets = st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
events = st.builds(
    Event,
    ts=st.none() | st.datetimes() | st.datetimes(timezones=st.builds(timezone, offsets)),
    level=st.sampled_from(Level),
    message=texts,
    logger=st.none() | plain_text,
    fields=st.builds(lambda a, b: a | b, extra_fields, kind_fields),
    exception=st.none() | texts | st.just(HUGE_TRACEBACK),
    kind=st.sampled_from(["log", "error", "performance", "member", "status", "other"]),
    source=plain_text,
)
sinks = st.builds(
    sink,
    username=st.none() | st.just("StatsBot logs"),
    thread_name=st.none() | st.just("alerts"),
    embeds=st.booleans(),
    suppress_notifications=st.booleans(),
    files=st.booleans(),
)
routes = st.builds(route, mention=st.lists(st.sampled_from(
    [f"<@&{ROLE}>", f"<@{USER}>", "<@&1>", "@everyone"]), max_size=4).map(tuple))
PROPERTY = settings(deadline=None, max_examples=100,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(st.lists(events, min_size=1, max_size=12), sinks, routes, st.none() | plain_text)
def test_any_events_through_any_sink_make_valid_messages(
        batch: list[Event], options: SinkConfig, through: RouteConfig, host: str | None) -> None:
    renderer = Renderer(options, host=host, routes=[through])
    embeds = [renderer.embed(e, through) for e in batch]
    for embed in embeds:
        assert embed.size == embed_size(embed.data) <= TOTAL_MAX
        assert (embed.data.get("description") or "").count("```") % 2 == 0
        if options.options.embeds is False:
            assert embed.text is not None and len(embed.text) <= renderer.text_limit
    sent = 0
    while embeds:
        count = renderer.pack(embeds)
        assert count >= 1
        message = renderer.payload(embeds[:count], [through] * count)
        assert_valid(message)
        allowed = message.body["allowed_mentions"]
        assert allowed["parse"] == []
        assert set(allowed.get("roles", [])) | set(allowed.get("users", [])) <= {ROLE, USER, "1"}
        embeds = embeds[count:]
        sent += count
    assert sent == len(batch)
    digest, taken = renderer.digest(batch)
    assert taken >= 1
    assert_valid(renderer.payload(digest, through))
