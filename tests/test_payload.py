"""The payload builder: every body it makes is one Discord accepts, whatever the event.

"Accepts" is decided by `discord_schema.execute_webhook_errors`: Discord's OpenAPI
schema plus the limits the schema does not express (6000 characters in all, usernames,
mentions, empty parts). Nothing here measures time.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import pkgutil
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.event import Event, Level
from logship.sinks.discord import render as render_package
from logship.sinks.discord.render import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBEDS_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    FOOTER_MAX,
    TITLE_MAX,
    TOTAL_MAX,
    Embed,
    build_payload,
    pack,
    render_embed,
)
from logship.sinks.discord.render.digest import render_digest
from logship.sinks.discord.render.message import build_text_payload
from logship.sinks.discord.render.text import truncate
from tests.discord_schema import embed_size, execute_webhook_errors

TS = datetime(2025, 7, 15, 20, 42, 7, 902000, tzinfo=UTC)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/StatsBot/src/monitoring.py", line 88, in beat\n'
    "    await self.channel.send(embed=embed)\n"
    "discord.errors.HTTPException: 503 Service Unavailable"
)


def event(message: str = "Failed to update heartbeat", **options: Any) -> Event:
    values: dict[str, Any] = dict(ts=TS, level=Level.ERROR, message=message,
                                  logger="monitoring", source="statsbot")
    return Event(**(values | options))


def assert_valid(body: dict[str, Any]) -> None:
    errors = execute_webhook_errors(body)
    assert errors == [], errors


def assert_sendable(embed: Embed) -> None:
    """One embed alone makes a valid message, and its size is what Discord counts."""
    assert embed.size == embed_size(embed.data)
    assert embed.size <= TOTAL_MAX
    assert_valid(build_payload([embed]))


def fences_closed(text: str) -> bool:
    return text.count("```") % 2 == 0


# -- the schema helper itself ----------------------------------------------------------


def test_the_schema_helper_catches_what_discord_refuses() -> None:
    embed = {"title": "t" * 256, "description": "d" * 4096, "fields": [
        {"name": "n" * 256, "value": "v" * 1024}, {"name": " ", "value": "x"},
        {"name": "n" * 256, "value": "v" * 1024}]}  # 6914 in all
    errors = execute_webhook_errors({"embeds": [embed], "username": "Clyde helper",
                                     "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}})
    assert any("6000" in e for e in errors)
    assert any("clyde" in e for e in errors)
    assert any("roles" in e for e in errors)
    assert any("fields/1/name is empty" in e for e in errors)
    assert execute_webhook_errors({}) == [
        "empty message: no content, embeds, files, components or poll"]
    assert any("schema" in e for e in execute_webhook_errors({"content": "x" * 2001}))
    assert any("JSON" in e for e in execute_webhook_errors({"content": "\ud800"}))
    assert execute_webhook_errors({"content": "hi"}) == []


# -- one embed -------------------------------------------------------------------------


def test_ordinary_event() -> None:
    e = event("Failed to update heartbeat\nwhile posting", exception=TRACEBACK,
              fields={"service": "monitoring", "attempt": 3, "ctx": {"a": [1, None]}})
    embed = render_embed(e, host="bot-1")
    data = embed.data
    assert data["title"] == "🔴 ERROR: Failed to update heartbeat"
    assert data["description"].startswith("while posting\n\n```py\nTraceback")
    assert data["description"].endswith("503 Service Unavailable\n```")
    assert data["color"] == 0xE74C3C
    assert data["timestamp"] == "2025-07-15T20:42:07.902000+00:00"
    assert data["fields"] == [
        {"name": "service", "value": "monitoring", "inline": True},
        {"name": "attempt", "value": "3", "inline": True},
        {"name": "ctx", "value": '{"a":[1,null]}', "inline": True},
    ]
    assert data["footer"] == {"text": "statsbot · monitoring · bot-1"}
    assert "author" not in data
    assert_sendable(embed)


@pytest.mark.parametrize("level", list(Level))
def test_every_level_has_its_own_colour_and_name(level: Level) -> None:
    embed = render_embed(event("hello", level=level))
    assert level.name in embed.data["title"]
    assert_sendable(embed)


def test_levels_look_different() -> None:
    embeds = [render_embed(event("x", level=level)).data for level in Level]
    assert len({e["color"] for e in embeds}) == len(Level)
    assert len({e["title"].split()[0] for e in embeds}) == len(Level)


def test_no_timestamp_and_no_footer_parts() -> None:
    embed = render_embed(Event(None, Level.INFO, "started"))
    assert embed.data == {"title": "🔵 INFO: started", "color": 0x3498DB}
    assert_sendable(embed)


def test_timestamps_are_utc() -> None:
    naive = render_embed(event(ts=datetime(2025, 7, 15, 15, 44, 2)))
    assert naive.data["timestamp"] == "2025-07-15T15:44:02+00:00"
    est = timezone(timedelta(hours=-5))
    aware = render_embed(event(ts=datetime(2025, 7, 15, 15, 44, 2, tzinfo=est)))
    assert aware.data["timestamp"] == "2025-07-15T20:44:02+00:00"
    odd = render_embed(event(ts=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))))
    assert "timestamp" not in odd.data  # no UTC equivalent: left out, not a 400
    for embed in (naive, aware, odd):
        assert_sendable(embed)


def test_empty_message() -> None:
    embed = render_embed(event("  \n ", exception=None))
    assert embed.data["title"] == "🔴 ERROR"
    assert "description" not in embed.data
    assert_sendable(embed)


def test_huge_message() -> None:
    message = "first line\n" + "word " * 20_000
    embed = render_embed(event(message, fields={"k": "v"}))
    assert embed.data["title"] == "🔴 ERROR: first line"
    assert len(embed.data["description"]) == DESCRIPTION_MAX
    assert embed.data["description"].startswith("word word")
    assert embed.data["description"].endswith("…")
    assert embed.data["fields"] == [{"name": "k", "value": "v", "inline": True}]
    assert_sendable(embed)


def test_long_first_line_goes_whole_into_the_description() -> None:
    first = "x" * 300
    embed = render_embed(event(first + "\nsecond"))
    assert len(embed.data["title"]) == TITLE_MAX
    assert embed.data["title"].endswith("x…")
    assert embed.data["description"] == first + "\nsecond"
    assert_sendable(embed)


def test_huge_traceback_keeps_its_last_lines() -> None:
    frames = "".join(f'  File "m{i}.py", line {i}, in f{i}\n    f{i + 1}()\n'
                     for i in range(5000))
    trace = "Traceback (most recent call last):\n" + frames + "ValueError: the real cause"
    embed = render_embed(event("boom", exception=trace))
    description = embed.data["description"]
    assert len(description) <= DESCRIPTION_MAX
    assert description.startswith("```py\n…\n")
    first_kept = description.split("\n")[2]  # cut at a line boundary: a whole line
    assert re.fullmatch(r'  File "m\d+\.py", line \d+, in f\d+|    f\d+\(\)', first_kept)
    assert description.endswith("ValueError: the real cause\n```")
    assert fences_closed(description)
    assert_sendable(embed)


def test_huge_message_and_traceback_share_the_description() -> None:
    trace = "Traceback (most recent call last):\n" + "  line\n" * 3000 + "KeyError: 'id'"
    embed = render_embed(event("head\n" + "m" * 50_000, exception=trace))
    description = embed.data["description"]
    assert len(description) <= DESCRIPTION_MAX
    assert description.startswith("mmm")
    assert description.endswith("KeyError: 'id'\n```")
    message_part, _, _ = description.partition("\n\n```py\n")
    assert len(message_part) <= DESCRIPTION_MAX // 3  # the traceback gets two thirds
    assert fences_closed(description)
    assert_sendable(embed)


def test_code_fences_are_always_closed() -> None:
    opened = render_embed(event("look\n```py\nx = 1", exception="E: ```oops```"))
    description = opened.data["description"]
    assert fences_closed(description)
    assert description.startswith("```py\nx = 1\n```\n\n```py\n")
    assert description.endswith("\n```")
    assert description.count("```") == 4  # the traceback's own fences are defused
    cut = render_embed(event("t\n```\n" + "y" * 10_000))
    assert fences_closed(cut.data["description"])
    for embed in (opened, cut):
        assert_sendable(embed)


def test_many_fields() -> None:
    fields = {f"field{i}": f"value {i}" for i in range(200)}
    embed = render_embed(event(fields=fields))
    rendered = embed.data["fields"]
    assert len(rendered) == FIELDS_MAX
    assert rendered[:2] == [{"name": "field0", "value": "value 0", "inline": True},
                            {"name": "field1", "value": "value 1", "inline": True}]
    assert rendered[-1]["name"] == "…and 176 more"
    assert rendered[-1]["value"].startswith("field24, field25")
    assert_sendable(embed)


def test_long_field_names_and_values_within_the_total() -> None:
    fields = {("n" * 1000) + str(i): "v" * 5000 for i in range(30)}
    embed = render_embed(event(fields=fields))
    for item in embed.data["fields"]:
        assert len(item["name"]) <= FIELD_NAME_MAX
        assert len(item["value"]) <= FIELD_VALUE_MAX
        assert item["inline"] is False
    assert embed.data["fields"][-1]["name"].startswith("…and ")
    assert_sendable(embed)


def test_everything_huge_at_once() -> None:
    e = event("z" * 100_000, exception="T\n" * 50_000, logger="l" * 3000, source="s" * 3000,
              fields={f"f{i}" * 100: "v" * 2000 for i in range(200)})
    embed = render_embed(e, host="h" * 3000)
    assert len(embed.data["footer"]["text"]) == FOOTER_MAX
    assert len(embed.data["fields"]) >= 2  # the description did not take everything
    assert_sendable(embed)


def test_field_values() -> None:
    fields = {"none": None, "empty": "", "blank": "  ", "list": [], "dict": {},
              "zero": 0, "false": False, "big": 2**70, "bytes": b"ab",
              "when": datetime(2025, 1, 2, tzinfo=UTC), "multi": "a\nb", "": "no name",
              "long": "w" * 60}
    rendered = {f["name"]: f for f in render_embed(event(fields=fields)).data["fields"]}
    assert list(rendered) == ["zero", "false", "big", "bytes", "when", "multi", "(no name)",
                              "long"]
    assert rendered["zero"]["value"] == "0"
    assert rendered["false"]["value"] == "false"
    assert rendered["big"]["value"] == str(2**70)
    assert rendered["bytes"]["value"] == "\"b'ab'\""
    assert rendered["when"]["value"] == '"2025-01-02T00:00:00+00:00"'
    assert rendered["multi"]["inline"] is False
    assert rendered["long"]["inline"] is False
    assert rendered["zero"]["inline"] is True


def test_non_bmp_emoji_at_every_cut_point() -> None:
    for pad in range(4):
        message = "t\n" + "a" * pad + "😀👍🏽👨‍👩‍👧" * 3000
        fields = {"😀" * 300: "🎉" * 2000}
        embed = render_embed(event(message, exception="🔥" * 9000, fields=fields))
        assert_sendable(embed)
        orjson.dumps(embed.data)


def test_lone_surrogates_are_replaced() -> None:
    e = event("bad \ud800 text\nmore \udfff", exception="x \ud83d",
              fields={"k\udc00": "v\ud800", "nested": {"a": "\ud800"}}, logger="lo\udbff")
    embed = render_embed(e, host="h\ud800")
    raw = orjson.dumps(embed.data).decode()
    assert "\ufffd" in raw
    assert embed.data["title"] == "🔴 ERROR: bad \ufffd text"
    assert_sendable(embed)


def test_surrogate_pairs_given_as_two_code_points_are_joined() -> None:
    embed = render_embed(event("\ud83d\ude00 up"))
    assert embed.data["title"] == "🔴 ERROR: 😀 up"


def test_mentions_are_kept_as_text() -> None:
    embed = render_embed(event("@everyone @here <@&123> ping"))
    assert embed.data["title"].endswith("@everyone @here <@&123> ping")


def test_embed_is_immutable() -> None:
    embed = Embed.of({"title": "x"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        embed.size = 0  # type: ignore[misc]
    assert embed == Embed({"title": "x"}, 1)


# -- truncate --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "limit", "keep", "expected"), [
    ("hello", 5, "head", "hello"),
    ("hello", 4, "head", "hel…"),
    ("hello", 4, "tail", "…llo"),
    ("hello", 1, "head", "…"),
    ("hello", 0, "head", ""),
    ("", 0, "tail", ""),
    ("😀😀😀", 2, "head", "😀…"),
    ("😀😀😀", 2, "tail", "…😀"),
    ("👍🏽👍🏽👍🏽", 4, "head", "👍🏽…"),  # no skin tone torn from its hand
    ("👍🏽👍🏽👍🏽", 4, "tail", "…👍🏽"),
    ("cafe\u0301s", 5, "head", "caf…"),  # no accent torn from its letter
    ("ab\u200d😀cd", 4, "head", "a…"),  # no dangling zero-width joiner
])
def test_truncate(text: str, limit: int, keep: Any, expected: str) -> None:
    assert truncate(text, limit, keep=keep) == expected
    assert len(truncate(text, limit, keep=keep)) <= limit


def test_truncate_never_leaves_a_lone_surrogate() -> None:
    paired = "\ud83d\ude00" * 10  # UTF-16 pairs given as separate code points
    for limit in range(12):
        for keep in ("head", "tail"):
            out = truncate(paired, limit, keep=keep)  # type: ignore[arg-type]
            assert len(out) <= limit
            out.encode("utf-8")  # raises on a lone surrogate
    assert truncate("a\ud800b", 10) == "a\ufffdb"


def test_truncate_refuses_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        truncate("x", -1)


# -- payloads --------------------------------------------------------------------------


def test_mentions_are_off_by_default() -> None:
    embed = render_embed(event("@everyone the database is down"))
    body = build_payload([embed], content="@everyone @here <@123> look")
    assert body["allowed_mentions"] == {"parse": []}
    assert body["content"] == "@everyone @here <@123> look"
    assert_valid(body)
    text = build_text_payload("@everyone disk full")
    assert text == {"content": "@everyone disk full", "allowed_mentions": {"parse": []}}
    assert_valid(text)


def test_default_mentions_are_not_shared_between_payloads() -> None:
    first = build_text_payload("a")
    first["allowed_mentions"]["parse"].append("everyone")
    assert build_text_payload("b")["allowed_mentions"] == {"parse": []}


def test_opting_in_to_mentions() -> None:
    mentions = {"parse": ["roles"], "users": ["123456789012345678"]}
    body = build_text_payload("<@&1> on call", allowed_mentions=mentions)
    assert body["allowed_mentions"] == mentions
    assert body["allowed_mentions"] is not mentions
    assert_valid(body)
    with pytest.raises(ValueError, match="users"):
        build_text_payload("x", allowed_mentions={"parse": ["users"], "users": ["1"]})


def test_none_options_are_left_out() -> None:
    body = build_payload([render_embed(event())], username=None, avatar_url=None)
    assert set(body) == {"embeds", "allowed_mentions"}
    body = build_payload([render_embed(event())], username="StatsBot logs",
                         avatar_url="https://example.com/a.png")
    assert body["username"] == "StatsBot logs"
    assert body["avatar_url"] == "https://example.com/a.png"
    assert_valid(body)


@pytest.mark.parametrize("username", ["", " ", "x" * 81, "my Discord logs", "CLYDE",
                                      "everyone", "Here"])
def test_usernames_discord_refuses(username: str) -> None:
    with pytest.raises(ValueError):
        build_payload([render_embed(event())], username=username)


def test_username_of_80_is_fine() -> None:
    assert_valid(build_text_payload("x", username="u" * 80))


def test_too_much_for_one_message_is_refused() -> None:
    with pytest.raises(ValueError, match="embeds"):
        build_payload([Embed.of({"title": "x"})] * (EMBEDS_MAX + 1))
    with pytest.raises(ValueError, match="6000"):
        build_payload([Embed.of({"description": "d" * 4000})] * 2)
    with pytest.raises(ValueError, match="empty"):
        build_payload([])
    with pytest.raises(ValueError, match="empty"):
        build_text_payload("  \n")


def test_text_payload_is_cut_to_2000() -> None:
    body = build_text_payload("😀" * 5000)
    assert len(body["content"]) == CONTENT_MAX
    assert body["content"].endswith("…")
    assert_valid(body)


# -- packing ---------------------------------------------------------------------------


def sized(*sizes: int) -> list[Embed]:
    return [Embed.of({"description": "d" * size}) for size in sizes]


def test_pack_counts() -> None:
    assert pack([]) == 0
    assert pack(sized(*[1] * 25)) == EMBEDS_MAX
    assert pack(sized(3000, 3000, 1)) == 2  # exactly 6000 fits
    assert pack(sized(3000, 3001)) == 1
    assert pack(sized(4096, 4096)) == 1
    assert pack(sized(10, 20, 30), max_embeds=2) == 2
    assert pack(sized(10, 20, 30), max_chars=30) == 2
    assert pack(sized(100), max_chars=50) == 1  # at least one, always


def drain(embeds: list[Embed]) -> list[dict[str, Any]]:
    """Every message `pack` makes of `embeds`, checking each one is as full as allowed."""
    bodies = []
    while embeds:
        count = pack(embeds)
        assert 1 <= count <= EMBEDS_MAX
        batch, embeds = embeds[:count], embeds[count:]
        if embeds and count < EMBEDS_MAX:
            assert sum(e.size for e in batch) + embeds[0].size > TOTAL_MAX
        bodies.append(build_payload(batch, username="StatsBot logs"))
    return bodies


def test_packed_messages_validate() -> None:
    events = [event(f"error {i}\n" + "x" * (i * 97 % 5000), exception=TRACEBACK * (i % 3),
                    fields={f"f{j}": j for j in range(i % 40)}) for i in range(300)]
    embeds = [render_embed(e) for e in events]
    bodies = drain(embeds)
    assert sum(len(b["embeds"]) for b in bodies) == len(events)
    for body in bodies:
        assert_valid(body)


def test_small_events_pack_ten_to_a_message() -> None:
    bodies = drain([render_embed(event(f"e{i}")) for i in range(25)])
    assert [len(b["embeds"]) for b in bodies] == [10, 10, 5]


# -- properties ------------------------------------------------------------------------

SPECIALS = ["```", "\n", "\r\n", "@everyone", "😀", "👍🏽", "\u200d", "\u0301", "\ufe0f", "…",
            " ", "\t", "\x00", "<@&123>"]
plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
mixed_text = st.lists(st.one_of(plain_text, st.sampled_from(SPECIALS)), max_size=30).map("".join)
big_text = st.builds(lambda unit, times: unit * times, mixed_text, st.integers(1, 3000))
texts = st.one_of(plain_text, mixed_text, big_text)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | plain_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain_text, inner, max_size=4),
    max_leaves=12,
)
field_maps = st.dictionaries(plain_text | big_text, json_values | big_text, max_size=60)
offsets = st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
timestamps = st.none() | st.datetimes() | st.datetimes(timezones=st.builds(timezone, offsets))
events = st.builds(
    Event,
    ts=timestamps,
    level=st.sampled_from(Level),
    message=texts,
    logger=st.none() | plain_text,
    fields=field_maps,
    exception=st.none() | texts,
    source=plain_text,
)
PROPERTY = settings(deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(events, st.none() | plain_text)
def test_any_event_makes_a_valid_message(e: Event, host: str | None) -> None:
    embed = render_embed(e, host=host)
    assert embed.size <= TOTAL_MAX
    assert embed.size == embed_size(embed.data)
    assert fences_closed(embed.data.get("description", ""))
    assert_valid(build_payload([embed], username="StatsBot logs", content=e.message or None))


@PROPERTY
@given(st.lists(events, min_size=1, max_size=30))
def test_any_events_pack_into_valid_messages(batch: list[Event]) -> None:
    bodies = drain([render_embed(e) for e in batch])
    assert sum(len(b["embeds"]) for b in bodies) == len(batch)
    for body in bodies:
        assert_valid(body)


@PROPERTY
@given(st.text(), st.integers(0, 300), st.sampled_from(["head", "tail"]))
def test_truncate_any_text(text: str, limit: int, keep: Any) -> None:
    out = truncate(text, limit, keep=keep)
    assert len(out) <= limit
    out.encode("utf-8")  # no lone surrogate survives
    if len(text) <= limit and not any("\ud800" <= char <= "\udfff" for char in text):
        assert out == text


def test_docstring_examples() -> None:
    attempted = 0
    for module in pkgutil.iter_modules(render_package.__path__):
        name = f"{render_package.__name__}.{module.name}"
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted > 0


def test_the_emulator_accepts_the_same_payloads() -> None:
    fake_discord = pytest.importorskip("logship.emulator.validate")
    embeds = [render_embed(event("m\n" + "x" * (i * 331 % 7000), exception=TRACEBACK,
                                 fields={f"f{j}": "v" * j for j in range(i % 30)}))
              for i in range(40)]
    for body in [*drain(embeds), build_text_payload("@everyone " * 300)]:
        assert fake_discord.payload_errors(body) == []


def test_a_digest_shows_a_time_only_when_it_changes() -> None:
    at = datetime(2025, 7, 16, 12, 0, 0, tzinfo=UTC)
    events = [Event(at + timedelta(milliseconds=100 * n), Level.ERROR, f"e{n}")
              for n in range(12)]
    embed, taken = render_digest(events)
    assert taken == 12
    assert embed.data["description"].splitlines()[:3] == ["`12:00:00` 🔴 e0", "🔴 e1", "🔴 e2"]
    assert embed.data["description"].splitlines()[10] == "`12:00:01` 🔴 e10"
    assert execute_webhook_errors({"embeds": [embed.data]}) == []
