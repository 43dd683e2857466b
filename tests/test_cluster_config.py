"""`[cluster]`: its keys, its secret, and what `logship check` and the daemon's health,
metrics and status say of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cluster import run_once
from logship.config import ClusterConfig, ConfigError, parse_config
from logship.observe.metrics import (
    ClusterFigures,
    Metrics,
    Snapshot,
    assess_health,
    status_line,
)
from tests.e2e import run_cli, write_config
from tests.redis_server import RedisServer


def cluster(tmp_path: Path, **table: object) -> ClusterConfig | None:
    config = parse_config({"daemon": {"state_dir": str(tmp_path)}, "cluster": table},
                          tmp_path / "c.toml", {"REDIS": "redis://:pw@127.0.0.1:6379/2"})
    return config.cluster


def test_the_cluster_keys(tmp_path: Path) -> None:
    assert parse_config({}, tmp_path / "c.toml", {}).cluster is None  # alone, as before
    made = cluster(tmp_path, redis="${REDIS}", name="statsbot", host="shard-1")
    assert made == ClusterConfig("redis://:pw@127.0.0.1:6379/2", "statsbot", "shard-1")
    assert made.masked_redis == "redis://****@127.0.0.1:6379/2"  # the password is a secret
    assert cluster(tmp_path, redis="redis://x").fallback_share == pytest.approx(1 / 3)
    secret = tmp_path / "redis"
    secret.write_text("redis://127.0.0.1:6380/0\n")
    assert cluster(tmp_path, redis_file=str(secret)).redis == "redis://127.0.0.1:6380/0"


@pytest.mark.parametrize("table,key", [
    ({}, "cluster: set exactly one of 'redis' or 'redis_file'"),
    ({"redis": "http://127.0.0.1:6379"}, "cluster.redis: not a Redis URL"),
    ({"redis": "redis://x", "fallback_share": 2}, "cluster.fallback_share"),
    ({"redis": "redis://x", "name": "a b"}, "cluster.name"),
    ({"redis": "redis://x", "shards": 3}, "cluster.shards: unknown key"),
])
def test_bad_cluster_keys_name_the_key(tmp_path: Path, table: dict[str, object], key: str
                                       ) -> None:
    with pytest.raises(ConfigError, match=key):
        cluster(tmp_path, **table)


def test_health_metrics_and_status_say_when_redis_is_down() -> None:
    down = Snapshot(cluster=ClusterFigures(up=False, host="shard-1", reason="refused",
                                           failures=2))
    ok, body = assess_health(down)
    assert ok  # delivery goes on, on the fallback share: not an outage
    assert body["cluster"]["redis"].startswith("down (refused)")
    assert "cluster: Redis down, 33% of the limits" in status_line(down)
    text = Metrics(lambda: down).exposition().decode()
    assert "logship_cluster_up 0.0" in text and "logship_cluster_outages_total 2.0" in text


async def test_check_says_whether_redis_answers(tmp_path: Path, fake: object,
                                                redis_server: RedisServer) -> None:
    config = write_config(tmp_path, fake)  # type: ignore[arg-type]
    text = config.read_text() + f'\n[cluster]\nredis = "{redis_server.url}"\nhost = "h1"\n'
    config.write_text(text)
    status, out, _ = await run_cli("check", "--config", str(config))
    assert status == 0 and "this host 'h1': Redis answers" in out
    redis_server.stop()
    status, out, _ = await run_cli("check", "--config", str(config))
    assert status == 0 and "Redis does not answer" in out and "33% of the limits" in out


async def test_the_cluster_bench_runs(tmp_path: Path, redis_server: RedisServer) -> None:
    outcome = await run_once(tmp_path, 20, redis_server.url)
    assert (outcome.delivered, outcome.expected) == (60, 60)
