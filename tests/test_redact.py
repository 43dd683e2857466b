"""Redaction and privacy: the corpus of every built-in pattern, events, config, and fuzz.

The corpus (tests/data/redaction_corpus.toml) lists, for each built-in pattern, texts it
must redact (with the exact result) and texts no pattern may touch. The fuzz tests drive
hostile input through `redact_event` and `Privacy.apply`: they must never raise, never
mutate their input, and never let a planted secret through. Patterns are linear-time by
construction; the large-input tests show it by finishing, never by timing.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.event import Ack, Event, Level
from logship.redact import (
    BUILTINS,
    DEFAULT_BUILTINS,
    MAX_DEPTH,
    OPTIONAL_BUILTINS,
    CustomPattern,
    Privacy,
    PrivacyConfig,
    RedactConfig,
    RedactConfigError,
    Redactor,
    mask_id,
    parse_privacy,
    parse_redact,
)

CORPUS: dict[str, Any] = tomllib.loads(
    (Path(__file__).parent / "data" / "redaction_corpus.toml").read_text(encoding="utf-8")
)
EVERYTHING = RedactConfig(builtins=BUILTINS)
SECRET = b"test-secret-test-secret-32-bytes"

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
WEBHOOK_TOKEN = "aBcDeFgHiJkLmNoPqRsTuVwXyZ_0123456789"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.dBjftJeZ4CVPmB92K27uhbUJU1p1r"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3\n-----END RSA PRIVATE KEY-----"
# (text planted, the part that must not survive)
PLANTED = [
    (TOKEN, TOKEN),
    (f"https://discord.com/api/webhooks/123456789012345678/{WEBHOOK_TOKEN}", WEBHOOK_TOKEN),
    (JWT, JWT),
    (AWS_KEY, AWS_KEY),
    (PEM, "MIIEpAIBAAKCAQEA0Z3VS5JJcds3"),
    ("password=Hunter2Hunter2", "Hunter2Hunter2"),
    ("Authorization: Bearer Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
]


def event(message: str = "hello", fields: dict[str, Any] | None = None, *,
          exception: str | None = None, kind: str = "log", logger: str | None = None) -> Event:
    return Event(ts=datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC), level=Level.INFO,
                 message=message, logger=logger, fields=fields or {}, exception=exception,
                 kind=kind, source="statsbot", path="/logs/logs.json", offset=42)


# --------------------------------------------------------------------------- corpus


def test_the_corpus_covers_every_built_in_pattern() -> None:
    for name in BUILTINS:
        assert name in CORPUS, f"no corpus section for {name}"
        assert len(CORPUS[name]["positives"]) >= 3, name
        assert len(CORPUS[name]["negatives"]) >= 2, name
    assert set(CORPUS) == {*BUILTINS, "common"}


@pytest.mark.parametrize(("name", "text", "expect"), [
    (name, case["text"], case["expect"])
    for name in BUILTINS for case in CORPUS[name]["positives"]
])
def test_each_pattern_redacts_its_positives_exactly(name: str, text: str, expect: str) -> None:
    redactor = Redactor(RedactConfig(builtins=(name,)))
    assert redactor.redact_text(text) == expect
    assert redactor.counts.get(name, 0) >= 1


@pytest.mark.parametrize(("name", "text"), [
    (name, case["text"]) for name in BUILTINS for case in CORPUS[name]["positives"]
])
def test_with_every_pattern_on_positives_still_lose_the_secret(name: str, text: str) -> None:
    redactor = Redactor(EVERYTHING)
    once = redactor.redact_text(text)
    assert once != text and "[redacted:" in once
    assert redactor.redact_text(once) == once  # idempotent: a redacted text stays as it is


@pytest.mark.parametrize("text", [
    text for section in CORPUS.values() for text in section["negatives"]
])
def test_negatives_survive_every_pattern(text: str) -> None:
    redactor = Redactor(EVERYTHING)
    assert redactor.redact_text(text) == text
    assert redactor.counts == {}


def test_emails_and_ips_are_off_by_default() -> None:
    text = "alice@example.com from 127.0.0.1 and ::1"
    assert Redactor().redact_text(text) == text
    assert set(OPTIONAL_BUILTINS).isdisjoint(DEFAULT_BUILTINS)
    on = Redactor(RedactConfig(emails=True, ips=True))
    assert on.redact_text(text) == "[redacted:email] from [redacted:ipv4] and [redacted:ipv6]"


# --------------------------------------------------------------------------- events


def test_redact_event_covers_message_exception_and_nested_fields_but_not_logger() -> None:
    original = event(
        f"login with {TOKEN}",
        {"context.note": f"token {TOKEN}", "items": [{"url": f"webhooks/123456789012345678/"
                                                              f"{WEBHOOK_TOKEN}"}, 3, None],
         "n": 3, "ok": True},
        exception=f"ValueError: bad password=hunter22\n{PEM}",
        logger="password=not-a-secret-in-a-logger-name",
    )
    out = Redactor().redact_event(original)
    assert out.message == "login with [redacted:discord_token]"
    assert out.exception == ("ValueError: bad password=[redacted:secret_value]\n"
                             "[redacted:private_key]")
    assert out.fields["context.note"] == "token [redacted:discord_token]"
    assert out.fields["items"][0]["url"] == "webhooks/123456789012345678/[redacted:discord_webhook]"
    assert out.fields["items"][1:] == [3, None]
    assert (out.fields["n"], out.fields["ok"]) == (3, True)
    assert out.logger == original.logger


def test_redact_event_never_mutates_the_callers_event() -> None:
    fields = {"a": {"b": [f"password=x1y2z3 {JWT}"]}, "token": "abc", "keep": "x"}
    original = event(f"{AWS_KEY}", fields)
    snapshot = copy.deepcopy(fields)
    out = Redactor().redact_event(original)
    assert original.fields == snapshot and original.message == AWS_KEY
    assert out is not original and out.fields is not original.fields
    assert out.fields["keep"] == "x"


def test_a_clean_event_comes_back_as_the_very_same_object() -> None:
    original = event("Heartbeat updated successfully", {"cpu": "0.3%", "threads": 12})
    assert Redactor().redact_event(original) is original


def test_a_copy_keeps_every_other_attribute_and_the_ack() -> None:
    ack = Ack(42)
    original = event(f"token={TOKEN}")
    original.ack = ack
    original.fingerprint = "f1"
    out = Redactor().redact_event(original)
    assert out.ack is ack
    for name in ("ts", "level", "logger", "kind", "source", "path", "offset", "fingerprint"):
        assert getattr(out, name) == getattr(original, name)


@pytest.mark.parametrize(("key", "sensitive"), [
    ("password", True), ("Password", True), ("db_password", True), ("context.api_key", True),
    ("X-Api-Key", True), ("clientSecret", True), ("access_token", True),
    ("Authorization", True), ("basic_auth", True), ("webhook_url", True), ("csrftoken", True),
    ("max_tokens", False), ("token_count", False), ("oauth", False), ("author_id", False),
    ("keyboard", False), ("service", False), ("password_reset", False),
])
def test_sensitive_keys_lose_their_whole_value(key: str, sensitive: bool) -> None:
    out = Redactor().redact_event(event("x", {key: "plain words", "other": 1}))
    assert (out.fields[key] == "[redacted:sensitive_key]") is sensitive


def test_a_sensitive_key_hides_any_value_but_nothing_to_hide() -> None:
    fields = {"token": {"nested": "x"}, "secret": [1, 2], "password": 1234, "api_key": None,
              "auth": True, "pwd": ""}
    out = Redactor().redact_event(event("x", fields))
    assert out.fields == {"token": "[redacted:sensitive_key]",
                          "secret": "[redacted:sensitive_key]",
                          "password": "[redacted:sensitive_key]", "api_key": None,
                          "auth": True, "pwd": ""}


def test_counts_per_pattern_for_metrics() -> None:
    redactor = Redactor()
    redactor.redact_event(event(f"{TOKEN} {TOKEN}", {"password": "x", "m": f"{AWS_KEY}"}))
    assert redactor.counts == {"discord_token": 2, "sensitive_key": 1, "aws_access_key": 1}
    assert {"discord_token", "sensitive_key", "too_deep"} <= set(redactor.names)


def test_redaction_can_be_switched_off() -> None:
    original = event(f"token={TOKEN}", {"password": "x"})
    assert Redactor(RedactConfig(enabled=False)).redact_event(original) is original


def test_redact_value_handles_lists_tuples_and_scalars() -> None:
    redactor = Redactor()
    assert redactor.redact_value((f"{AWS_KEY}", 1)) == ("[redacted:aws_access_key]", 1)
    assert redactor.redact_value(2.5) == 2.5


# --------------------------------------------------------------------------- config


def test_parse_redact_reads_the_suggested_toml() -> None:
    table = tomllib.loads("""
        [redact]
        disable = ["jwt"]
        emails = true
        ips = false
        extra_sensitive_keys = ["session-id"]
        [redact.patterns]
        stripe = "sk_live_[A-Za-z0-9]{8,}"
        internal = { regex = "(?i)corp-(?P<secret>[0-9a-f]{8})", triggers = ["CORP-"] }
    """)["redact"]
    config = parse_redact(table)
    assert "jwt" not in config.active and "email" in config.active
    assert "ipv4" not in config.active
    assert config.patterns == (
        CustomPattern("stripe", "sk_live_[A-Za-z0-9]{8,}"),
        CustomPattern("internal", "(?i)corp-(?P<secret>[0-9a-f]{8})", ("corp-",)),
    )
    redactor = Redactor(config)
    text = f"{JWT} sk_live_abcdef123 CORP-deadbeef a@b.org"
    assert redactor.redact_text(text) == (
        f"{JWT} [redacted:stripe] CORP-[redacted:internal] [redacted:email]")
    out = redactor.redact_event(event("x", {"session_id": "s1"}))
    assert out.fields["session_id"] == "[redacted:sensitive_key]"


@pytest.mark.parametrize(("table", "key"), [
    ({"builtins": ["discord_token", "nope"]}, "builtins"),
    ({"disable": ["jwts"]}, "disable"),
    ({"disable": "jwt", "emails": "yes"}, "emails"),
    ({"patterns": {"bad": "("}}, "patterns.bad"),
    ({"patterns": {"empty": "a*"}}, "patterns.empty"),
    ({"patterns": {"jwt": "x+"}}, "patterns.jwt"),
    ({"patterns": {"no spaces": "x+"}}, "patterns.no spaces"),
    ({"patterns": {"t": {"regex": 3}}}, "patterns.t.regex"),
    ({"patterns": {"t": {"regex": "x", "trigger": ["x"]}}}, "patterns.t.trigger"),
    ({"patterns": {"t": {"regex": "x", "triggers": [1]}}}, "patterns.t.triggers"),
    ({"patterns": ["x"]}, "patterns"),
    ({"sensitive_keys": [1]}, "sensitive_keys"),
    ({"emails": 1}, "emails"),
    ({"colour": "red"}, "colour"),
])
def test_parse_redact_names_the_bad_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(RedactConfigError) as caught:
        parse_redact(table)
    assert caught.value.key == key
    assert isinstance(caught.value, ValueError)


def test_an_unknown_builtin_given_directly_is_refused_too() -> None:
    with pytest.raises(RedactConfigError):
        Redactor(RedactConfig(builtins=("nope",)))


def test_custom_patterns_that_cannot_join_the_alternation_run_on_their_own() -> None:
    config = RedactConfig(patterns=(
        CustomPattern("twice", r"(\w{3})-\1"),  # a numbered backreference
        CustomPattern("named", r"(?P<v>\d{3})=(?P=v)"),
    ))
    redactor = Redactor(config)
    assert redactor.redact_text("abc-abc abc-abd 123=123") == (
        "[redacted:twice] abc-abd [redacted:named]")


def test_a_custom_pattern_that_matches_nothing_anywhere_changes_nothing() -> None:
    redactor = Redactor(RedactConfig(patterns=(CustomPattern("edge", r"\b"),)))
    assert redactor.redact_text("two words") == "two words"


def test_sensitive_keys_from_config_match_in_any_case_style() -> None:
    redactor = Redactor(parse_redact({"sensitive_keys": ["sessionId"]}))
    out = redactor.redact_event(event("x", {"ctx.session_id": "a", "SessionID": "b",
                                            "sessions": 3, "password": "not in the list"}))
    assert out.fields == {"ctx.session_id": "[redacted:sensitive_key]",
                          "SessionID": "[redacted:sensitive_key]", "sessions": 3,
                          "password": "not in the list"}


def test_parse_privacy_reads_the_suggested_toml() -> None:
    table = tomllib.loads("""
        [sinks.members]
        url = "http://127.0.0.1:8080/api/webhooks/123456789012345678/token"
        privacy = { ids = "hash", usernames = "drop", secret_file = "/run/credentials/x" }
    """)["sinks"]["members"]["privacy"]
    config = parse_privacy(table)
    assert (config.ids, config.usernames, config.secret_file) == ("hash", "drop",
                                                                  "/run/credentials/x")
    assert parse_privacy({}) == PrivacyConfig()


@pytest.mark.parametrize(("table", "key"), [
    ({"ids": "hash"}, "ids"),
    ({"ids": "scramble"}, "ids"),
    ({"usernames": "mask"}, "usernames"),
    ({"ids": "hash", "secret": "short"}, "secret"),
    ({"secret": "x" * 32, "secret_file": "/x"}, "secret"),
    ({"secret_file": 3}, "secret_file"),
    ({"hash_chars": 4}, "hash_chars"),
    ({"id_keys": "member_id", "username_keys": [1]}, "username_keys"),
    ({"username_pattern": "("}, "username_pattern"),
    ({"nickname": "drop"}, "nickname"),
])
def test_parse_privacy_names_the_bad_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(RedactConfigError) as caught:
        parse_privacy(table)
    assert caught.value.key == key


def test_the_secret_never_shows_in_repr() -> None:
    config = parse_privacy({"ids": "hash", "secret": "s" * 32})
    assert "s" * 32 not in repr(config)


# --------------------------------------------------------------------------- privacy


MEMBER_FIELDS = {"member_id": 123456789012345678, "username": "alice#0",
                 "guild_id": "987654321098765432", "date": "2025-07-15"}


def test_ids_kept_by_default_and_the_event_is_returned_as_is() -> None:
    original = event("Member join recorded: alice#0", dict(MEMBER_FIELDS))
    assert Privacy(PrivacyConfig()).apply(original) is original


def test_ids_masked_in_fields_and_text() -> None:
    original = event("Member joined: alice#0 (member_id=123456789012345678 "
                     "guild_id=987654321098765432)", dict(MEMBER_FIELDS))
    out = Privacy(PrivacyConfig(ids="mask")).apply(original)
    assert out.fields["member_id"] == "1234…5678"
    assert out.fields["guild_id"] == "987654321098765432"  # not in id_keys by default
    assert out.message == ("Member joined: alice#0 (member_id=1234…5678 "
                           "guild_id=987654321098765432)")
    assert original.fields == MEMBER_FIELDS


def test_ids_hashed_same_user_same_hash_other_secret_other_hash() -> None:
    a = Privacy(PrivacyConfig(ids="hash"), SECRET)
    b = Privacy(PrivacyConfig(ids="hash"), b"another-secret-another-secret-32")
    first = a.apply(event("x", {"member_id": 123456789012345678}))
    again = a.apply(event("y", {"user_id": "123456789012345678"}))
    other = b.apply(event("x", {"member_id": 123456789012345678}))
    assert first.fields["member_id"] == again.fields["user_id"]
    assert len(first.fields["member_id"]) == 12
    assert int(first.fields["member_id"], 16) >= 0
    assert other.fields["member_id"] != first.fields["member_id"]


def test_a_known_id_is_replaced_wherever_it_appears_in_text() -> None:
    privacy = Privacy(PrivacyConfig(ids="hash"), SECRET)
    original = event("Banned 123456789012345678 from 987654321098765432",
                     {"author_id": "123456789012345678",
                      "note": "id 123456789012345678 again; 1234567890123456789 is another"},
                     exception="KeyError: '123456789012345678'")
    out = privacy.apply(original)
    pseudonym = privacy.pseudonym("123456789012345678")
    assert out.message == f"Banned {pseudonym} from 987654321098765432"
    assert out.fields["note"] == f"id {pseudonym} again; 1234567890123456789 is another"
    assert out.exception == f"KeyError: '{pseudonym}'"


def test_hashing_needs_a_long_enough_secret() -> None:
    with pytest.raises(RedactConfigError):
        Privacy(PrivacyConfig(ids="hash"))
    with pytest.raises(RedactConfigError):
        Privacy(PrivacyConfig(ids="hash"), b"short")


def test_usernames_dropped_from_fields_and_text() -> None:
    original = event("Member join recorded: alice#0, display name Alice Smith; "
                     "username=alice#0 bob#1234 left", {
                         **MEMBER_FIELDS, "display_name": "Alice Smith",
                         "context.member_name": "alice"})
    out = Privacy(PrivacyConfig(usernames="drop")).apply(original)
    assert "username" not in out.fields and "display_name" not in out.fields
    assert "context.member_name" not in out.fields
    assert out.fields["member_id"] == 123456789012345678  # ids kept
    assert out.message == ("Member join recorded: [username], display name [username]; "
                           "username=[username] [username] left")


def test_member_events_treat_tree_log_id_and_member_items_as_personal() -> None:
    fields = {"member": "alice#0", "id": "123456789012345678", "date": "2025-07-15"}
    privacy = Privacy(PrivacyConfig(ids="mask", usernames="drop"))
    member = privacy.apply(event("➡️ Member Join", dict(fields), kind="member"))
    assert member.fields == {"id": "1234…5678", "date": "2025-07-15"}
    item = privacy.apply(event("├─ id: 123456789012345678", kind="member"))
    assert item.message == "├─ id: 1234…5678"
    other = privacy.apply(event("Cache refreshed", {"id": "123456789012345678"}))
    assert other.fields == {"id": "123456789012345678"}  # "id" alone: only in member events


def test_a_text_seen_in_an_ordinary_event_is_still_checked_in_a_member_event() -> None:
    privacy = Privacy(PrivacyConfig(ids="mask"))
    text = "├─ id: 123456789012345678"
    assert privacy.apply(event(text)).message == text
    assert privacy.apply(event(text, kind="member")).message == "├─ id: 1234…5678"


def test_keys_match_in_any_case_style_and_at_any_dotted_depth() -> None:
    privacy = Privacy(PrivacyConfig(ids="mask", usernames="drop"))
    out = privacy.apply(event("x", {"context.memberId": "123456789012345678",
                                    "author.userName": "bob", "ctx": {"User-Id": 123456789}}))
    assert out.fields == {"context.memberId": "1234…5678", "ctx": {"User-Id": "1234…6789"}}


def test_id_keys_are_configurable() -> None:
    config = parse_privacy({"ids": "mask", "id_keys": ["member_id", "guild_id"]})
    out = Privacy(config).apply(event("guild_id=987654321098765432", dict(MEMBER_FIELDS)))
    assert out.fields["guild_id"] == "9876…5432"
    assert out.message == "guild_id=9876…5432"


def test_mask_id_hides_the_middle() -> None:
    assert mask_id("123456789012345678") == "1234…5678"
    assert mask_id("12345678") == "****"


def test_one_event_to_two_sinks_each_sees_its_own_view() -> None:
    original = event("Member join recorded: alice#0", dict(MEMBER_FIELDS))
    redacted = Redactor().redact_event(original)
    hashed = Privacy(PrivacyConfig(ids="hash", usernames="drop"), SECRET).apply(redacted)
    kept = Privacy(PrivacyConfig()).apply(redacted)
    assert kept.fields == MEMBER_FIELDS and kept.message == "Member join recorded: alice#0"
    assert "username" not in hashed.fields and hashed.message.endswith("[username]")


# --------------------------------------------------------------------------- hostile input


def test_deeply_nested_fields_are_cut_not_fatal() -> None:
    deep: Any = "password=x1"
    for n in range(5000):
        deep = [deep] if n % 2 else {"k": deep}
    redactor = Redactor()
    out = redactor.redact_event(event("x", {"deep": deep}))
    assert "too_deep" in redactor.counts
    node = out.fields["deep"]
    for _ in range(MAX_DEPTH):
        node = node[0] if isinstance(node, list) else node["k"]
    assert node == "[redacted:too_deep]"
    privacy = Privacy(PrivacyConfig(ids="hash", usernames="drop"), SECRET)
    privacy.apply(event("x", {"deep": deep}))


def test_a_field_that_contains_itself_is_cut_not_fatal() -> None:
    loop: dict[str, Any] = {"a": "token=abc123"}
    loop["self"] = loop
    Redactor().redact_event(event("x", {"loop": loop}))
    Privacy(PrivacyConfig(ids="mask", usernames="drop")).apply(event("x", {"loop": loop}))


def test_many_fields() -> None:
    fields = {f"k{n}": f"value {n} password={n}" for n in range(20000)}
    out = Redactor().redact_event(event("x", fields))
    assert out.fields["k19999"] == "value 19999 password=[redacted:secret_value]"


NEAR_MISSES = {
    "keys without values": "password" * 131072,
    "unclosed quote": 'token="' + "a" * (1 << 20),
    "unclosed escapes": 'token="' + "\\" * (1 << 20),
    "webhook ids without tokens": "webhooks/1234567890123456/" * 40330,
    "token-like runs": ("M" * 30 + ".") * 33825,
    "almost tokens": ("MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe." + "a" * 26 + " ") * 16000,
    "private key headers without an end": "-----BEGIN PRIVATE KEY-----" * 38837,
    "dashes": "-" * (1 << 20),
    "dotted quads and colons": "1.2.3.4.5:6:7:" * 74898,
    "email near-misses": "a.b@c." * 174762,
    "jwt near-misses": "eyJaaaaaaaaa.eyJ" * 65536,
    "bearer words": "Bearer " * 149796,
}


@pytest.mark.parametrize("name", list(NEAR_MISSES))
def test_a_megabyte_of_near_matches_is_handled(name: str) -> None:
    """Linear-time patterns: each of these finishes in well under a second (not asserted:
    a catastrophic pattern would make this test hang, which is the failure)."""
    text = NEAR_MISSES[name]
    out = Redactor(EVERYTHING).redact_text(text)
    assert isinstance(out, str)


_FRAGMENTS = st.sampled_from([
    "password", "token", "=", ":", '"', "'", "\\", " ", "\n", "-----BEGIN", " PRIVATE KEY-----",
    "-----END", "webhooks/", "123456789012345678", "/", "eyJ", ".", "AKIA", "Bearer ", "@",
    "::", "1.2.3.4", "MTIzNDU2Nzg5MDEyMzQ1Njc4", "[redacted:", "]", "#0", "member_id=",
    "username=", "aws_secret_access_key", "api_key", "{", "}", "&", "?", "é", "\x00", "🎯",
])
HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=60).map("".join),
)
FIELD_KEYS = st.one_of(
    st.sampled_from(["password", "token", "member_id", "user_id", "username", "id", "member",
                     "display_name", "context.api_key", "note", "items"]),
    st.text(max_size=12),
)
FIELD_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              HOSTILE_TEXT),
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(FIELD_KEYS, children, max_size=5)),
    max_leaves=40,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(message=HOSTILE_TEXT, exception=st.none() | HOSTILE_TEXT,
       fields=st.dictionaries(FIELD_KEYS, FIELD_VALUES, max_size=12),
       kind=st.sampled_from(["log", "member", "error"]))
def test_fuzz_never_raises_never_mutates(message: str, exception: str | None,
                                         fields: dict[str, Any], kind: str) -> None:
    original = event(message, fields, exception=exception, kind=kind)
    snapshot = copy.deepcopy(fields)
    for config in (RedactConfig(), EVERYTHING):
        out = Redactor(config).redact_event(original)
        assert isinstance(out, Event) and isinstance(out.message, str)
        again = Redactor(config).redact_event(out)
        assert (again.message, again.exception) == (out.message, out.exception)
    for privacy in (Privacy(PrivacyConfig(ids="hash", usernames="drop"), SECRET),
                    Privacy(PrivacyConfig(ids="mask"))):
        assert isinstance(privacy.apply(original), Event)
    assert original.fields == snapshot
    assert original.message == message


@settings(max_examples=300, deadline=None)
@given(before=st.text(max_size=40), after=st.text(max_size=40),
       planted=st.sampled_from(PLANTED), where=st.sampled_from(["message", "field", "list"]))
def test_fuzz_a_planted_secret_never_survives(before: str, after: str,
                                              planted: tuple[str, str], where: str) -> None:
    text, secret = planted
    line = f"{before} {text}\n{after}"
    fields: dict[str, Any] = {}
    if where == "field":
        fields = {"note": line}
    elif where == "list":
        fields = {"items": [1, {"deeper": [line]}]}
    out = Redactor().redact_event(event(line if where == "message" else "x", fields))
    assert secret not in repr(out.message) + repr(out.fields)


@settings(max_examples=50, deadline=None)
@given(unit=st.lists(_FRAGMENTS, min_size=1, max_size=8).map("".join),
       repeat=st.integers(min_value=1000, max_value=5000))
def test_fuzz_moderately_large_repetitive_input(unit: str, repeat: int) -> None:
    text = unit * repeat
    out = Redactor(EVERYTHING).redact_text(text)
    assert isinstance(out, str)
    Privacy(PrivacyConfig(ids="hash", usernames="drop"), SECRET).apply(event(text))
