"""The Discord emulator: answers, rate limits, validation, faults, records, control API.

Every test talks HTTP to a real emulator on 127.0.0.1 (port 0); time is a fake clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from logship.emulator.server import Answer, FakeDiscord, Received, serve
from logship.emulator.validate import payload_errors, pinging_mentions

HOOK = "123456789012345678"
OTHER = "223456789012345678"
TOKEN = "secret-token"
EMBED = {"title": "🔴 ERROR Failed to update heartbeat", "description": "boom",
         "fields": [{"name": "member_id", "value": "42", "inline": True}],
         "footer": {"text": "bot.py:12"}, "timestamp": "2025-07-16T12:00:00+00:00"}
VALID = {"embeds": [EMBED], "username": "logship", "allowed_mentions": {"parse": []}}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                "X-RateLimit-Reset-After", "X-RateLimit-Bucket")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Answered:
    """One HTTP answer, read whole."""

    def __init__(self, status: int, headers: dict[str, str], body: Any) -> None:
        self.status, self.headers, self.body = status, headers, body


async def call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
               ) -> Answered:
    async with session.request(method, url, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return Answered(resp.status, dict(resp.headers), body)


async def post(session: aiohttp.ClientSession, url: str, payload: Any = VALID, *,
               wait: bool = True, **params: str) -> Answered:
    query = {"wait": "true", **params} if wait else params
    return await call(session, "POST", url, json=payload, params=query)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(host="127.0.0.1", port=0, clock=clock) as server:
        yield server


# ------------------------------------------------------------------ answers and records


async def test_wait_true_answers_a_message_object(fake: FakeDiscord,
                                                  session: aiohttp.ClientSession) -> None:
    answer = await post(session, fake.webhook_url(HOOK, TOKEN),
                        {**VALID, "content": "hello"})
    assert answer.status == 200
    message = answer.body
    assert message["id"].isdigit() and message["type"] == 0
    assert message["channel_id"] == HOOK and message["webhook_id"] == HOOK
    assert message["content"] == "hello"
    assert message["embeds"][0]["title"] == EMBED["title"]
    assert message["author"] == {"id": HOOK, "username": "logship", "avatar": None,
                                 "discriminator": "0000", "bot": True}
    assert message["timestamp"].endswith("+00:00")
    assert fake.messages[0].message_id == message["id"]


async def test_without_wait_the_answer_is_204(fake: FakeDiscord,
                                              session: aiohttp.ClientSession) -> None:
    answer = await post(session, fake.webhook_url(), wait=False)
    assert answer.status == 204 and answer.body == ""
    assert len(fake.messages) == 1


async def test_versioned_paths_and_thread_id(fake: FakeDiscord,
                                             session: aiohttp.ClientSession) -> None:
    url = f"{fake.base_url}/api/v10/webhooks/{HOOK}/{TOKEN}"
    answer = await post(session, url, thread_id="333333333333333333")
    assert answer.status == 200 and answer.body["channel_id"] == "333333333333333333"
    assert fake.messages[0].thread_id == "333333333333333333"
    assert fake.messages[0].channel == HOOK
    assert (await post(session, url, thread_id="general")).status == 400


async def test_valid_payload_is_recorded(fake: FakeDiscord,
                                         session: aiohttp.ClientSession) -> None:
    seen: list[Received] = []
    fake.on_message = seen.append
    await post(session, fake.webhook_url(HOOK, TOKEN))
    await post(session, fake.webhook_url(OTHER, TOKEN), {"content": "other"})

    assert [m.webhook_id for m in fake.messages] == [HOOK, OTHER]
    assert seen == fake.messages
    received = fake.messages_for(HOOK)
    assert len(received) == 1 and received[0].payload == VALID
    assert received[0].channel == HOOK and received[0].at == 1000.0
    assert fake.embeds() == [EMBED] and fake.embeds(OTHER) == []
    assert fake.stats.accepted == 2 and fake.stats.requests == 2
    assert fake.stats.by_status == {200: 2}


async def test_multipart_with_payload_json(fake: FakeDiscord,
                                           session: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    form.add_field("payload_json", '{"content": "see file"}', content_type="application/json")
    form.add_field("files[0]", b"line\n" * 10, filename="log.txt", content_type="text/plain")
    answer = await call(session, "POST", fake.webhook_url(), data=form,
                        params={"wait": "true"})
    assert answer.status == 200
    assert fake.messages[0].payload == {"content": "see file"}
    assert fake.messages[0].files == ("log.txt",)
    assert fake.messages[0].attachment_text() == "line\n" * 10  # a test can read the file
    assert [(a["filename"], a["size"]) for a in answer.body["attachments"]] == [("log.txt", 50)]


# ------------------------------------------------------------------------ rate limits


async def test_sixth_request_in_the_window_is_429_until_reset(
    fake: FakeDiscord, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    url = fake.webhook_url(HOOK, TOKEN)
    remaining = []
    for _ in range(5):
        answer = await post(session, url)
        assert answer.status == 200
        remaining.append(answer.headers["X-RateLimit-Remaining"])
        clock.now += 0.1
    assert remaining == ["4", "3", "2", "1", "0"]

    limited = await post(session, url)
    assert limited.status == 429
    assert limited.body["message"] == "You are being rate limited."
    assert limited.body["global"] is False
    assert limited.body["retry_after"] == pytest.approx(1.5)
    assert limited.headers["Retry-After"] == "2"
    assert limited.headers["X-RateLimit-Scope"] == "user"
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert float(limited.headers["X-RateLimit-Reset-After"]) == pytest.approx(1.5)
    assert len(fake.messages) == 5  # a 429 is not a message
    assert fake.stats.rate_limited == 1 and fake.stats.invalid_requests == 1

    clock.now += 1.5
    again = await post(session, url)
    assert again.status == 200 and again.headers["X-RateLimit-Remaining"] == "4"
    assert len(fake.messages) == 6


async def test_every_webhook_reports_one_bucket_and_has_its_own_count(
        fake: FakeDiscord, session: aiohttp.ClientSession) -> None:
    """Discord's bucket hash leaves out the top-level resource (the webhook id): the
    hash is the route's, the limit the webhook's."""
    first = [await post(session, fake.webhook_url(HOOK, TOKEN)) for _ in range(5)]
    other = await post(session, fake.webhook_url(OTHER, TOKEN))
    assert first[-1].headers["X-RateLimit-Remaining"] == "0"
    assert other.status == 200 and other.headers["X-RateLimit-Remaining"] == "4"
    assert {a.headers["X-RateLimit-Bucket"] for a in [*first, other]} == {
        first[0].headers["X-RateLimit-Bucket"]}


async def test_channel_limit_is_shared_between_webhooks(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with FakeDiscord(clock=clock, channel_limit=4, channel_window=60.0) as fake:
        fake.add_webhook(HOOK, TOKEN, channel="900000000000000001")
        fake.add_webhook(OTHER, TOKEN, channel="900000000000000001")
        for hook in (HOOK, OTHER, HOOK, OTHER):
            assert (await post(session, fake.webhook_url(hook, TOKEN))).status == 200
        limited = await post(session, fake.webhook_url(OTHER, TOKEN))
        assert limited.status == 429
        assert limited.headers["X-RateLimit-Scope"] == "shared"
        assert limited.body["retry_after"] == pytest.approx(60.0)
        assert limited.body["global"] is False
        assert fake.stats.rate_limited == 1
        assert fake.stats.invalid_requests == 0  # Discord does not count shared 429s

        clock.now += 60.0
        assert (await post(session, fake.webhook_url(HOOK, TOKEN))).status == 200


async def test_global_limit(clock: FakeClock, session: aiohttp.ClientSession) -> None:
    async with FakeDiscord(clock=clock, global_limit=2) as fake:
        await post(session, fake.webhook_url(HOOK, TOKEN))
        await post(session, fake.webhook_url(OTHER, TOKEN))
        limited = await post(session, fake.webhook_url("323456789012345678", TOKEN))
        assert limited.status == 429
        assert limited.body["global"] is True
        assert limited.headers["X-RateLimit-Global"] == "true"
        clock.now += 1.0
        assert (await post(session, fake.webhook_url(HOOK, TOKEN))).status == 200


async def test_rate_limit_headers_on_errors_too(fake: FakeDiscord,
                                                session: aiohttp.ClientSession) -> None:
    fake.strict = True
    unknown = await post(session, fake.webhook_url(HOOK, TOKEN))
    fake.strict = False
    invalid = await post(session, fake.webhook_url(HOOK, TOKEN), {"content": 5})
    for answer in (unknown, invalid):
        assert all(name in answer.headers for name in RATE_HEADERS), answer.headers
    assert (unknown.status, invalid.status) == (404, 400)


# ------------------------------------------------------------------------- validation

SCHEMA_TYPE = {"content": 5}
ELEVEN_EMBEDS = {"embeds": [{"title": str(n)} for n in range(11)]}
TOO_MUCH_TEXT = {"embeds": [{"description": "x" * 4000}, {"description": "y" * 2001}]}
INVALID_PAYLOADS = {
    "schema type": (SCHEMA_TYPE, "content"),
    "11 embeds": (ELEVEN_EMBEDS, "10 or fewer"),
    "6001 characters": (TOO_MUCH_TEXT, "6000"),
    "empty object": ({}, "empty message"),
    "username discord": ({"content": "x", "username": "Discord bot"}, "discord"),
    "parse and users": ({"content": "x", "allowed_mentions": {
        "parse": ["users"], "users": ["123456789012345678"]}}, "mutually exclusive"),
    "not an object": ([{"content": "x"}], "JSON object"),
}


@pytest.mark.parametrize(("payload", "expected"), INVALID_PAYLOADS.values(),
                         ids=INVALID_PAYLOADS.keys())
async def test_invalid_payloads_are_refused(
    fake: FakeDiscord, session: aiohttp.ClientSession, payload: Any, expected: str
) -> None:
    answer = await post(session, fake.webhook_url(), payload)
    assert answer.status == 400
    assert answer.body["code"] == 50035 and answer.body["message"] == "Invalid Form Body"
    assert expected in str(answer.body["errors"])
    assert fake.messages == [] and fake.stats.accepted == 0


@pytest.mark.parametrize("raw", [b"", b"{not json", b"NaN"])
async def test_unreadable_bodies_are_refused(fake: FakeDiscord,
                                             session: aiohttp.ClientSession, raw: bytes) -> None:
    answer = await call(session, "POST", fake.webhook_url(), data=raw,
                        headers={"Content-Type": "application/json"})
    assert answer.status == 400 and answer.body["code"] == 50035
    assert fake.messages == []


async def test_errors_are_nested_like_discords(fake: FakeDiscord,
                                               session: aiohttp.ClientSession) -> None:
    payload = {"embeds": [{"title": "t" * 257}]}
    answer = await post(session, fake.webhook_url(), payload)
    leaf = answer.body["errors"]["embeds"]["0"]["title"]["_errors"]
    assert leaf == [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be 256 or fewer in length."}]


def test_payload_errors_accepts_what_logship_sends() -> None:
    assert payload_errors(VALID) == []
    assert payload_errors({"content": "x" * 2000}) == []
    assert payload_errors({"embeds": [{"description": "x" * 4096}, {"title": "y" * 256},
                                      {"description": "z" * 1648}]}) == []  # exactly 6000
    assert payload_errors({}, files=1) == []


@pytest.mark.parametrize(("payload", "expected"), [
    ({"content": "x" * 2001}, "content: Must be 2000 or fewer in length."),
    ({"embeds": [{"title": "x" * 257}]}, "embeds.0.title: Must be 256 or fewer in length."),
    ({"embeds": [{"description": "x" * 4097}]}, "embeds.0.description: Must be 4096"),
    ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "embeds.0.fields: Must be 25"),
    ({"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]}, "fields.0.name: Must be 256"),
    ({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]}, "value: Must be 1024"),
    ({"embeds": [{"fields": [{"name": "n", "value": ""}]}]}, "value: Must be between 1 and"),
    ({"embeds": [{"fields": [{"name": "n"}]}]}, "fields.0: This field is required"),
    ({"embeds": [{"footer": {"text": "f" * 2049}}]}, "footer.text: Must be 2048"),
    ({"embeds": [{"author": {"name": "a" * 257}}]}, "author.name: Must be 256"),
    ({"embeds": [{"title": "t", "timestamp": "yesterday"}]}, "Should be ISO8601"),
    ({"embeds": [{"title": "t", "color": -1}]}, "embeds.0.color"),
    ({"content": "x", "username": ""}, "username: Must be between 1 and 80 in length."),
    ({"content": "x", "username": "u" * 81}, "username: Must be between 1 and 80"),
    ({"content": "x", "username": "CLYDE"}, 'cannot contain "clyde"'),
    ({"content": "x", "username": "here"}, 'Username cannot be "here"'),
    ({"content": "x", "username": "Everyone"}, 'Username cannot be "Everyone"'),
    ({"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}}, "roles"),
    ({"content": "x", "allowed_mentions": {"parse": ["nobody"]}}, "allowed_mentions.parse.0"),
    ({"content": "   "}, "empty message"),
    ({"embeds": []}, "empty message"),
    ("content", "body: the body must be a JSON object"),
    (None, "body: the body must be a JSON object"),
])
def test_payload_errors_names_each_problem(payload: object, expected: str) -> None:
    errors = payload_errors(payload)
    assert any(expected in error for error in errors), errors


def test_payload_errors_counts_all_embeds_toward_6000() -> None:
    embed = {"title": "t" * 200, "description": "d" * 1000,
             "fields": [{"name": "n" * 100, "value": "v" * 100}],
             "footer": {"text": "f" * 100}, "author": {"name": "a" * 101}}  # 1601 each
    assert payload_errors({"embeds": [embed] * 3}) == []
    errors = payload_errors({"embeds": [embed] * 4})
    assert errors == ["embeds: Embed size exceeds maximum size of 6000 (it is 6404)"]


def test_payload_errors_reports_a_limit_once() -> None:
    assert payload_errors({"content": "x" * 2001}) == [
        "content: Must be 2000 or fewer in length."]


def test_pinging_mentions() -> None:
    assert pinging_mentions({"content": "@here <@1> <@!2> <@&3>"}) == [
        "@here", "<@1>", "<@!2>", "<@&3>"]
    assert pinging_mentions({"embeds": [{"description": "@everyone"}]}) == ["@everyone"]
    only_user = {"content": "@everyone <@1> <@2>", "allowed_mentions": {"users": ["2"]}}
    assert pinging_mentions(only_user) == ["<@2>"]
    assert pinging_mentions({"content": "@\u200beveryone"}) == []


# ----------------------------------------------------------------- webhooks and tokens


async def test_strict_mode_knows_only_declared_webhooks(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with FakeDiscord(strict=True, clock=clock) as fake:
        fake.add_webhook(HOOK, TOKEN, channel="900000000000000001")
        unknown = await post(session, fake.webhook_url(OTHER, TOKEN))
        assert unknown.status == 404 and unknown.body == {"message": "Unknown Webhook",
                                                          "code": 10015}
        wrong = await post(session, fake.webhook_url(HOOK, "wrong"))
        assert wrong.status == 401 and wrong.body == {"message": "Invalid Webhook Token",
                                                      "code": 50027}
        right = await post(session, fake.webhook_url(HOOK, TOKEN))
        assert right.status == 200 and right.body["channel_id"] == "900000000000000001"
        assert fake.stats.invalid_requests == 2
        assert fake.stats.by_status == {404: 1, 401: 1, 200: 1}


async def test_open_mode_accepts_any_webhook_until_deleted(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    assert (await post(session, fake.webhook_url(HOOK, "anything"))).status == 200
    fake.delete_webhook(HOOK)
    gone = await post(session, fake.webhook_url(HOOK, "anything"))
    assert gone.status == 404 and gone.body["code"] == 10015
    assert (await post(session, fake.webhook_url("not-a-snowflake", "x"))).status == 404
    assert len(fake.messages) == 1


async def test_webhook_and_message_routes(fake: FakeDiscord,
                                          session: aiohttp.ClientSession) -> None:
    fake.add_webhook(HOOK, TOKEN, name="alerts")
    base = f"{fake.base_url}/api/v10/webhooks/{HOOK}/{TOKEN}"
    webhook = await call(session, "GET", base)
    assert webhook.status == 200 and webhook.body["name"] == "alerts"
    assert all(name in webhook.headers for name in RATE_HEADERS)

    message_id = (await post(session, base, {"content": "first"})).body["id"]
    fetched = await call(session, "GET", f"{base}/messages/{message_id}")
    assert fetched.status == 200 and fetched.body["content"] == "first"
    edited = await call(session, "PATCH", f"{base}/messages/{message_id}",
                        json={"content": "second"})
    assert edited.status == 200 and edited.body["content"] == "second"
    assert fake.messages[0].payload["content"] == "second"
    bad_edit = await call(session, "PATCH", f"{base}/messages/{message_id}",
                          json={"content": "x" * 2001})
    assert bad_edit.status == 400 and bad_edit.body["code"] == 50035
    deleted = await call(session, "DELETE", f"{base}/messages/{message_id}")
    assert deleted.status == 204 and fake.messages == []
    missing = await call(session, "GET", f"{base}/messages/{message_id}")
    assert missing.status == 404 and missing.body["code"] == 10008

    assert (await call(session, "DELETE", base)).status == 204
    assert (await call(session, "GET", base)).body["code"] == 10015


# ------------------------------------------------------------------------------- pings


async def test_pings_counted_without_allowed_mentions(fake: FakeDiscord,
                                                      session: aiohttp.ClientSession) -> None:
    await post(session, fake.webhook_url(), {"content": "wake up @everyone"})
    await post(session, fake.webhook_url(), {"embeds": [{"title": "for <@&42>"}]})
    assert fake.stats.pings == 2
    assert fake.messages[0].pings == ("@everyone",)


async def test_no_pings_with_empty_parse(fake: FakeDiscord,
                                         session: aiohttp.ClientSession) -> None:
    quiet = {"parse": []}
    await post(session, fake.webhook_url(), {"content": "@everyone <@1>",
                                             "allowed_mentions": quiet})
    await post(session, fake.webhook_url(), {**VALID, "content": "@here"})
    assert fake.stats.pings == 0 and len(fake.messages) == 2


# ------------------------------------------------------------------------------ faults


async def test_script_answers_in_order_then_normal(fake: FakeDiscord,
                                                   session: aiohttp.ClientSession) -> None:
    fake.script(500, (429, {"message": "You are being rate limited.", "retry_after": 0.25,
                            "global": False}),
                Answer(404), 204, (502, "<html>Bad Gateway</html>", {"X-Proxy": "yes"}))
    url = fake.webhook_url()
    answers = [await post(session, url) for _ in range(6)]
    assert [a.status for a in answers] == [500, 429, 404, 200, 502, 200]
    assert answers[0].body == {"message": "500: Internal Server Error", "code": 0}
    assert answers[1].body["retry_after"] == 0.25 and answers[1].headers["Retry-After"] == "1"
    assert answers[2].body["code"] == 10015
    assert answers[4].body == "<html>Bad Gateway</html>" and answers[4].headers["X-Proxy"]
    assert len(fake.messages) == 2  # only the normal answers recorded
    assert fake.stats.rate_limited == 1


async def test_script_can_drop_the_connection(fake: FakeDiscord,
                                              session: aiohttp.ClientSession) -> None:
    fake.script("drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(session, fake.webhook_url())
    assert (await post(session, fake.webhook_url())).status == 200
    assert fake.stats.dropped == 1 and len(fake.messages) == 1


async def test_fail_rate_one_always_fails(clock: FakeClock,
                                          session: aiohttp.ClientSession) -> None:
    async with FakeDiscord(fail_rate=1.0, clock=clock, seed=1) as fake:
        answers = [await post(session, fake.webhook_url()) for _ in range(10)]
        assert {a.status for a in answers} <= {500, 502, 503}
        assert all(a.body["code"] == 0 for a in answers)
        assert fake.messages == [] and fake.stats.rate_limited == 0


def test_script_refuses_nonsense() -> None:
    fake = FakeDiscord()
    with pytest.raises(ValueError, match="not a scripted answer"):
        fake.script("teapot")


# -------------------------------------------------------------------- control endpoints


async def test_control_endpoints(fake: FakeDiscord, session: aiohttp.ClientSession) -> None:
    await post(session, fake.webhook_url(HOOK, TOKEN), {"content": "one"})
    messages = await call(session, "GET", f"{fake.base_url}/_fake/messages")
    assert [m["payload"] for m in messages.body] == [{"content": "one"}]
    assert messages.body[0]["webhook_id"] == HOOK
    stats = await call(session, "GET", f"{fake.base_url}/_fake/stats")
    assert stats.body["accepted"] == 1 and stats.body["by_status"] == {"200": 1}

    scripted = await call(session, "POST", f"{fake.base_url}/_fake/script",
                          json=[503, {"status": 429, "body": {"retry_after": 0.1}}, "drop"])
    assert scripted.status == 200 and scripted.body["queued"] == 3
    assert (await post(session, fake.webhook_url())).status == 503
    assert (await post(session, fake.webhook_url())).status == 429
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(session, fake.webhook_url())

    config = await call(session, "POST", f"{fake.base_url}/_fake/config",
                        json={"strict": True, "webhook_limit": 2, "fail_rate": 0.0})
    assert config.status == 200 and fake.strict and fake.limits.webhook_limit == 2
    assert (await post(session, fake.webhook_url(OTHER, TOKEN))).status == 404
    bad = await call(session, "POST", f"{fake.base_url}/_fake/config", json={"colour": 1})
    assert bad.status == 400 and "colour" in bad.body["message"]
    bad = await call(session, "POST", f"{fake.base_url}/_fake/config", json={"fail_rate": 2})
    assert bad.status == 400

    added = await call(session, "POST", f"{fake.base_url}/_fake/webhooks",
                       json={"id": OTHER, "token": TOKEN})
    assert added.status == 200
    assert (await post(session, fake.webhook_url(OTHER, TOKEN))).status == 200
    assert (await post(session, fake.webhook_url(OTHER, TOKEN))).status == 429  # 404 counted

    reset = await call(session, "POST", f"{fake.base_url}/_fake/reset")
    assert reset.status == 200 and fake.messages == [] and fake.stats.requests == 0
    stats = await call(session, "GET", f"{fake.base_url}/_fake/stats")
    assert stats.body["requests"] == 0  # control endpoints are not counted


# ---------------------------------------------------------------------------- serving


async def test_urls(fake: FakeDiscord) -> None:
    assert fake.port > 0
    assert fake.base_url == f"http://127.0.0.1:{fake.port}"
    assert fake.webhook_url() == f"{fake.base_url}/api/webhooks/123456789012345678/token"


async def test_start_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        await FakeDiscord(host="0.0.0.0").start()


def test_serve_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve("0.0.0.0", 0) == 2
    assert "loopback" in capsys.readouterr().err
