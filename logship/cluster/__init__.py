"""Many hosts, one Discord budget: cluster mode on Redis (optional, `[cluster]`).

- `link`: the connection to Redis, up or down, and scripts run over it atomically;
- `budget`: each webhook's and channel's budgets, Discord's headers and 429 pauses,
  shared by every sidecar (`SharedLimiter`); a cut local budget while Redis is down;
- `windows`: dedupe windows across hosts: an error many hosts see is one message that
  its sender edits to "×N on K hosts";
- `backlog`: each host's backlog per channel, for storm mode to judge the cluster's.

Checkpoints and the spool stay per host: Redis going away costs sharing, never events.
"""
