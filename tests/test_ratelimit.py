"""Rate-limit budgets: local windows, Discord's headers, 429 pauses."""

from __future__ import annotations

from pathlib import Path

from logship.emulator.server import FakeDiscord
from logship.sinks.discord.ratelimit import SAFETY_MARGIN, RateLimits, SlidingWindow
from tests.e2e import WEBHOOK_IDS, Bot, Inbox, Logship, write_config

ERRORS, MEMBERS = WEBHOOK_IDS["errors"], WEBHOOK_IDS["members"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_allows_limit_then_waits_from_completion() -> None:
    clock = FakeClock()
    window = SlidingWindow(5, 2.0, clock)
    for _ in range(5):
        assert window.wait_time() == 0
        window.reserve()
        clock.now += 0.1
        window.release()
    # the first request completed at 1000.1: the sixth may go at 1002.1
    assert abs(window.wait_time() - (1002.1 - clock.now)) < 1e-9
    clock.now = 1002.1
    assert window.wait_time() == 0


def test_in_flight_requests_hold_budget() -> None:
    clock = FakeClock()
    window = SlidingWindow(1, 2.0, clock)
    window.reserve()
    assert window.wait_time() == 2.0  # unknown until it completes: a whole window
    window.release()
    assert window.wait_time() == 2.0
    clock.now += 2.0
    assert window.wait_time() == 0


def limiter(clock: FakeClock, limits: RateLimits | None = None, channel: str = "c"):
    limits = limits or RateLimits(clock)
    return limits.limiter(channel=channel, webhook_requests=5, webhook_window=2.0,
                          channel_messages=30, channel_window=60.0)


def test_headers_with_nothing_remaining_wait_for_reset() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    lim.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5",
                   "X-RateLimit-Bucket": "abc"})
    assert abs(lim.wait_time() - (1.5 + SAFETY_MARGIN)) < 1e-9
    clock.now += 1.6
    assert lim.wait_time() == 0


def test_429_pauses_this_webhook_and_global_pauses_all() -> None:
    clock = FakeClock()
    limits = RateLimits(clock)
    a, b = limiter(clock, limits, "a"), limiter(clock, limits, "b")
    a.rate_limited(3.0, is_global=False)
    assert a.wait_time() > 3.0 and b.wait_time() == 0
    b.rate_limited(1.0, is_global=True)
    assert a.wait_time() > 3.0 and b.wait_time() > 1.0


def test_channel_budget_is_shared_by_sinks_naming_it() -> None:
    clock = FakeClock()
    limits = RateLimits(clock)
    kwargs = dict(webhook_requests=5, webhook_window=2.0, channel_messages=2, channel_window=60.0)
    a = limits.limiter(channel="alerts", **kwargs)
    b = limits.limiter(channel="alerts", **kwargs)
    for lim in (a, b):
        lim.webhook.reserve()
        lim.channel.reserve()
        lim.completed({})
    assert a.wait_time() > 59 and b.wait_time() > 59


def test_one_bucket_hash_is_one_budget_per_webhook() -> None:
    """Discord reports one hash for every webhook's execute route: limiters of one
    webhook (two sinks, two threads) share its budget; another webhook's is its own."""
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    options = dict(webhook_requests=50, webhook_window=2.0, channel_messages=50,
                   channel_window=60.0)
    first = limits.limiter(channel="a", webhook="111", **options)
    same_webhook = limits.limiter(channel="a", webhook="111", **options)
    other_webhook = limits.limiter(channel="b", webhook="222", **options)
    headers = {"X-RateLimit-Bucket": "execute", "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset-After": "1.5"}
    first.completed(headers)
    other_webhook.completed({**headers, "X-RateLimit-Remaining": "4"})
    same_webhook.completed({**headers, "X-RateLimit-Remaining": "1"})
    assert first.headers is same_webhook.headers
    assert other_webhook.headers is not first.headers
    same_webhook.headers.spend()
    assert first.wait_time() > 1.0  # what one sink of the webhook spent, the other cannot
    assert other_webhook.wait_time() == 0.0  # another webhook's 0 holds nobody else back


def test_an_edit_answer_leaves_the_posting_budget_alone() -> None:
    """PATCH (editing a repeat count) is another route with its own limit: its answer
    must not reset what posting has left, and an edit spends nothing of it."""
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    lim = limits.limiter(channel="a", webhook="111", webhook_requests=50, webhook_window=2.0,
                         channel_messages=50, channel_window=60.0)
    lim.completed({"X-RateLimit-Bucket": "execute", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset-After": "1.5"})
    assert lim.wait_time("edit") == 0.0  # posting's 0 does not hold edits back
    lim.edit_window.reserve()
    lim.completed({"X-RateLimit-Bucket": "edit", "X-RateLimit-Remaining": "4",
                   "X-RateLimit-Reset-After": "2.0"}, "edit")
    assert lim.wait_time() > 1.0  # still waiting for the execute bucket's reset
    lim.rate_limited(5.0, is_global=False, scope="user", route="edit")
    assert lim.wait_time("edit") > 4.9 and lim.wait_time() < 1.6


def test_a_shared_scope_429_pauses_every_webhook_of_the_channel() -> None:
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    options = dict(webhook_requests=50, webhook_window=2.0, channel_messages=50,
                   channel_window=60.0)
    first = limits.limiter(channel="alerts", **options)
    second = limits.limiter(channel="alerts", **options)
    elsewhere = limits.limiter(channel="general", **options)
    first.rate_limited(3.0, is_global=False, scope="shared")
    assert second.wait_time() > 2.9 and elsewhere.wait_time() == 0.0
    first.rate_limited(5.0, is_global=False, scope="user")
    assert first.wait_time() > 4.9 and second.wait_time() < 3.1


# -- end to end: every webhook reports one bucket hash, each has its own budget ----------


async def test_two_webhooks_in_one_bucket_do_not_hold_each_other_back(
        tmp_path: Path, inbox: Inbox) -> None:
    """Discord (and the emulator) report the same `X-RateLimit-Bucket` for every
    webhook's execute route, each webhook with its own count: two sinks on two webhooks
    both get their 5 requests of a window, neither waits for the other's reset."""
    window = 60.0  # one window for the whole test: a wait for a reset would be a stall
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=inbox,
                           webhook_window=window) as fake:
        config = write_config(tmp_path, fake, sink_options={"webhook_window": window})
        daemon = await Logship("run", "--config", str(config)).start()
        try:
            await daemon.wait_until_logged("running:")
            bot = Bot(tmp_path)
            for n in range(1, 6):  # one event each, one request each, in turn
                bot.log("ERROR", f"Failed #{n}")
                bot.log("INFO", f"Member joined #{n}")
                try:
                    await inbox.wait_for(lambda n=n: len(fake.messages_for(ERRORS)) == n
                                         and len(fake.messages_for(MEMBERS)) == n)
                except TimeoutError:
                    raise AssertionError(
                        f"request {n}: errors got {len(fake.messages_for(ERRORS))}, members "
                        f"{len(fake.messages_for(MEMBERS))}") from None
            assert fake.stats.rate_limited == 0
            assert (await daemon.stop())[0] == 0
        finally:
            daemon.kill()


def test_the_holdup_names_the_budget_that_makes_a_request_wait() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    assert lim.holdup() is None  # it may go at once
    for _ in range(30):  # the channel's 30 messages, 5 per 2 s as the webhook allows
        clock.now += lim.wait_time()
        lim.webhook.reserve()  # what `acquire` spends
        lim.channel.reserve()
        clock.now += 0.1
        lim.completed({})
    holdup = lim.holdup()
    assert holdup is not None and holdup.why == "Discord's channel limit"
    assert abs(holdup.seconds - lim.wait_time()) < 1e-9 and holdup.seconds > 40
    lim.rate_limited(90.0, is_global=True)
    assert lim.holdup().why == "Discord's global limit"  # the longest wait names it
