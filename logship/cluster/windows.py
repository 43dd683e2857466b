"""Dedupe windows across hosts: one error that many sidecars see is one message.

A route's dedupe window (`dedupe_window`) counts repeats of an error (same fingerprint)
instead of sending them. In a cluster the window lives in Redis: the first host to see
the error in a window sends it and owns the window; every other occurrence, on any host,
is counted there, with the hosts that saw it; the owner edits its message to show
"×N on K hosts" (`RepeatEditor`, through `totals`).

Nothing counts as delivered before it is (issue 17): a window records whether its first
event was sent. If its owner dies before sending it, the owner itself sends it again
when it re-reads the event after its restart, and another host takes the window over if
the first stays unsent for `CLAIM_AFTER` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from logship.cluster.link import RedisLink

CLAIM_AFTER_MS = 30_000  # an unsent first after this long: another host may send it
KEEP_AFTER_MS = 600_000  # a window's record is kept this long past its end (last edit)

_NOW = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: the window, its hosts. ARGV: host, window ms, claim ms, this host holds the first
ADMIT = _NOW + """
local ends = tonumber(redis.call('HGET', KEYS[1], 'end') or '0')
local keep = tonumber(ARGV[2]) + """ + str(KEEP_AFTER_MS) + """
if now >= ends then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'count', 1, 'end', now + tonumber(ARGV[2]),
             'created', now, 'sent', '0')
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', KEYS[2], keep)
  return {1, 1, 1}
end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('SADD', KEYS[2], ARGV[1])
local hosts = redis.call('SCARD', KEYS[2])
if ARGV[4] == '0' and redis.call('HGET', KEYS[1], 'sent') == '0' then
  local owner = redis.call('HGET', KEYS[1], 'owner')
  local created = tonumber(redis.call('HGET', KEYS[1], 'created'))
  if owner == ARGV[1] or now - created > tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'created', now)
    redis.call('HINCRBY', KEYS[1], 'count', -1)
    return {1, count - 1, hosts}
  end
end
return {0, count, hosts}
"""

# KEYS: the window. ARGV: host, message id.
SENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'sent', '1', 'owner', ARGV[1], 'message', ARGV[2])
end
return 0
"""

# KEYS: the window, its hosts.
TOTALS = """
return {tonumber(redis.call('HGET', KEYS[1], 'count') or '0'), redis.call('SCARD', KEYS[2])}
"""


@dataclass(frozen=True)
class Verdict:
    """What the cluster says of one occurrence: send it (this host has the window's
    first), or it was counted; the window's count and hosts so far."""

    send: bool
    count: int
    hosts: int


class SharedWindows:
    """The cluster's dedupe windows (raises `Down` when Redis does not answer)."""

    def __init__(self, link: RedisLink, claim_after: float = CLAIM_AFTER_MS / 1000) -> None:
        self.link = link
        self.claim_after_ms = int(claim_after * 1000)

    def _keys(self, route: str, sink: str, fingerprint: str) -> tuple[str, str]:
        key = self.link.key("dedupe", route, sink, fingerprint)
        return key, f"{key}:hosts"

    async def admit(self, route: str, sink: str, fingerprint: str, window: float, *,
                    holding_first: bool) -> Verdict:
        """One occurrence of `fingerprint` through `route` to `sink`. `holding_first`:
        this host has the window's first event in hand (not a re-read after a crash)."""
        send, count, hosts = await self.link.script(
            "dedupe-admit", ADMIT, self._keys(route, sink, fingerprint),
            (self.link.host, int(window * 1000), self.claim_after_ms,
             "1" if holding_first else "0"))
        return Verdict(bool(int(send)), int(count), int(hosts))

    async def sent(self, route: str, sink: str, fingerprint: str, message_id: str) -> None:
        """The window's first was delivered, as message `message_id`."""
        await self.link.script("dedupe-sent", SENT, self._keys(route, sink, fingerprint)[:1],
                               (self.link.host, message_id))

    async def totals(self, route: str, sink: str, fingerprint: str) -> tuple[int, int]:
        """The window's count and how many hosts saw it."""
        count, hosts = await self.link.script("dedupe-totals", TOTALS,
                                              self._keys(route, sink, fingerprint), ())
        return int(count), int(hosts)
