"""A local Discord: the Execute Webhook emulator and its validator.

- `server`: `FakeDiscord`, an aiohttp server that answers like discord.com (rate limits,
  400s for bodies Discord refuses, webhook message routes, faults on demand), records
  what it accepted (`Received`), and `serve` for the command line;
- `validate`: `payload_errors`, whether Discord would accept a body (its schema and the
  rules the schema misses), with no server at all;
- `sample_bot`: a sample bot's log lines, for the demo and the benchmarks.

It imports nothing of the client it tests: its limits are written out again.
"""

from logship.emulator.server import FakeDiscord, Received
from logship.emulator.validate import payload_errors

__all__ = ["FakeDiscord", "Received", "payload_errors"]
