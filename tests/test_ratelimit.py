"""Rate-limit budgets: local windows, Discord's headers, 429 pauses."""

from __future__ import annotations

from logship.discord.ratelimit import SAFETY_MARGIN, RateLimits, SlidingWindow


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


def test_webhooks_in_one_bucket_share_its_budget() -> None:
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    options = dict(webhook_requests=50, webhook_window=2.0, channel_messages=50,
                   channel_window=60.0)
    first = limits.limiter(channel="a", **options)
    second = limits.limiter(channel="b", **options)
    headers = {"X-RateLimit-Bucket": "shared", "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset-After": "1.5"}
    first.completed(headers)
    second.completed({**headers, "X-RateLimit-Remaining": "1"})
    assert first.headers is second.headers
    second.headers.spend()
    assert first.wait_time() > 1.0  # what the second spent, the first cannot


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
