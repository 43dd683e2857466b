"""Config: the TOML contract, env expansion, url_file, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from logship.config import ConfigError, Level, find_config, load_config
from logship.sinks.discord.url import WebhookURL, WebhookURLError

HOOK = "https://discord.com/api/webhooks/123456789012345678/tok-en_1"

BASE = f"""
[daemon]
state_dir = "state"

[[sources]]
name = "statsbot"
paths = ["logs/*/logs.json"]
format = "json"

[sinks.errors]
url = "{HOOK}"
username = "StatsBot logs"

[[routes]]
name = "errors"
min_level = "error"
sinks = ["errors"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env or {})
    return info.value


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE), env={})
    assert config.daemon.state_dir == tmp_path / "state"
    assert config.daemon.spool_dir == tmp_path / "state" / "spool"
    assert config.daemon.drain_timeout == 10.0
    (source,) = config.sources
    assert source.paths == (str(tmp_path / "logs/*/logs.json"),)
    assert source.start_at == "end" and source.max_line_bytes == 65536
    sink = config.sinks["errors"]
    assert sink.options.url.post_url == "https://discord.com/api/v10/webhooks/123456789012345678/tok-en_1"
    assert (sink.options.webhook_requests, sink.options.webhook_window) == (5, 2.0)
    assert (sink.options.channel_messages, sink.options.channel_window) == (30, 60.0)
    (route,) = config.routes
    assert route.min_level is Level.ERROR and route.sinks == ("errors",)


def test_relative_paths_are_absolute_from_the_configs_folder_even_with_a_relative_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, BASE.replace('format = "json"',
                                 'format = "json"\nexclude = ["*.gz", "old/../old/*", "**/x/*"]'))
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("config.toml"), env={})  # `logship run --config config.toml`
    (source,) = config.sources
    assert source.paths == (f"{tmp_path}/logs/*/logs.json",)
    assert source.exclude == ("*.gz", f"{tmp_path}/old/*", "**/x/*")
    assert config.daemon.state_dir == tmp_path / "state"


def test_env_expansion_and_default(tmp_path: Path) -> None:
    text = BASE.replace(HOOK, "${HOOK}").replace('"StatsBot logs"', '"${NAME:-Bot logs}"')
    config = load_config(write(tmp_path, text), env={"HOOK": HOOK})
    assert config.sinks["errors"].options.url.webhook_id == "123456789012345678"
    assert config.sinks["errors"].options.username == "Bot logs"


def test_missing_env_variable_names_key(tmp_path: Path) -> None:
    err = error_for(tmp_path, BASE.replace(HOOK, "${DISCORD_WEBHOOK_ERRORS}"))
    assert err.key == "sinks.errors.url"
    assert "DISCORD_WEBHOOK_ERRORS is not set" in str(err)
    assert str(tmp_path / "config.toml") in str(err)


def test_url_file(tmp_path: Path) -> None:
    (tmp_path / "cred").write_text(HOOK + "\n")
    text = BASE.replace(f'url = "{HOOK}"', 'url_file = "cred"')
    config = load_config(write(tmp_path, text), env={})
    assert config.sinks["errors"].options.url.token == "tok-en_1"


def test_missing_url_file(tmp_path: Path) -> None:
    err = error_for(tmp_path, BASE.replace(f'url = "{HOOK}"', 'url_file = "nope"'))
    assert err.key == "sinks.errors.url_file" and "cannot read" in err.problem


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ('sinks = ["errors"]', 'sinks = ["erors"]', "routes[0].sinks", "unknown sink 'erors'"),
        ('min_level = "error"', 'min_level = "loud"', "routes[0].min_level", "unknown level"),
        (HOOK, "https://example.com/api/webhooks/123456789012345678/x", "sinks.errors.url",
         "not Discord"),
        ('format = "json"', 'format = "xml"', "sources[0].format", "not one of"),
        ('username = "StatsBot logs"', 'username = "Discord alerts"', "sinks.errors.username",
         "discord"),
        ('state_dir = "state"', 'state_dir = "state"\ndrain_timout = 3', "daemon.drain_timout",
         "unknown key"),
        ('min_level = "error"', 'min_level = "error"\nmatch = { message = "(" }',
         "routes[0].match.message", "invalid regex"),
        ('username = "StatsBot logs"', 'username = "x"\nqueue_size = nan',
         "sinks.errors.queue_size", "finite number"),
        ('format = "json"', 'format = "json"\nmax_line_bytes = inf',
         "sources[0].max_line_bytes", "finite number"),
        ('state_dir = "state"', 'state_dir = "state"\ndrain_timeout = -inf',
         "daemon.drain_timeout", "finite number"),
        ('min_level = "error"', 'min_level = "error"\ndedupe_window = "\u00b2s"',
         "routes[0].dedupe_window", "not a duration"),
        ('min_level = "error"', 'min_level = "error"\ndedupe_window = inf',
         "routes[0].dedupe_window", "not a duration"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, old: str, new: str, key: str, words: str) -> None:
    err = error_for(tmp_path, BASE.replace(old, new))
    assert err.key == key
    assert words in err.problem


def test_a_config_or_url_file_that_is_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.path == str(path) and "not UTF-8" in info.value.problem
    (tmp_path / "cred").write_bytes(b"\xff" + HOOK.encode())
    err = error_for(tmp_path, BASE.replace(f'url = "{HOOK}"', 'url_file = "cred"'))
    assert err.key == "sinks.errors.url_file" and "not UTF-8" in err.problem


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    text = BASE + "\n[[routes]\n"
    bad_line = text.count("\n")  # the last line, where the ']]' is missing
    err = error_for(tmp_path, text)
    assert "TOML syntax error" in err.problem and f"line {bad_line}," in err.problem


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(Path("x.toml"), env={"LOGSHIP_CONFIG": "y.toml"}) == Path("x.toml")
    assert find_config(None, env={"LOGSHIP_CONFIG": "y.toml"}) == Path("y.toml")
    (tmp_path / "config.toml").write_text("")
    assert find_config(None, env={}) == Path("config.toml")


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/123456789012345678/abc",
        "https://discordapp.com/api/v9/webhooks/123456789012345678/abc",
        "https://ptb.discord.com/api/v10/webhooks/123456789012345678/abc/",
        "https://canary.discord.com/api/webhooks/123456789012345678/abc",
    ],
)
def test_webhook_forms_post_to_canonical_v10(url: str) -> None:
    parsed = WebhookURL.parse(url)
    assert parsed.post_url == "https://discord.com/api/v10/webhooks/123456789012345678/abc"
    assert "abc" not in str(parsed) and "abc" not in repr(parsed)
    assert parsed.masked == "…/webhooks/123456789012345678/****"


@pytest.mark.parametrize("host", ["127.0.0.1:8030", "localhost:9", "[::1]:8030", "127.1.2.3"])
def test_loopback_webhooks_are_allowed(host: str) -> None:
    parsed = WebhookURL.parse(f"http://{host}/api/webhooks/123456789012345678/abc")
    assert parsed.post_url == f"http://{host}/api/v10/webhooks/123456789012345678/abc"


@pytest.mark.parametrize(
    "url",
    [
        "http://discord.com/api/webhooks/123456789012345678/abc",  # not https
        "https://discord.com.evil.example/api/webhooks/123456789012345678/abc",
        "https://10.0.0.1/api/webhooks/123456789012345678/abc",
        "https://discord.com/api/channels/123456789012345678/messages",
    ],
)
def test_bad_webhook_urls(url: str) -> None:
    with pytest.raises(WebhookURLError):
        WebhookURL.parse(url)


def test_the_documented_example_config_loads_with_every_default_spelled_out() -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    env = {"DISCORD_WEBHOOK_ERRORS": HOOK,
           "DISCORD_WEBHOOK_MEMBERS": HOOK.replace("123456789012345678", "223456789012345678")}
    config = load_config(example, env)
    assert [s.name for s in config.sources] == ["statsbot"]
    assert set(config.sinks) == {"errors", "members"}
    assert config.spool.max_bytes is None and config.spool.segment_bytes == 8 << 20


def test_spool_options(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + "\n[spool]\nmax_bytes = 1048576\n"))
    assert config.spool.max_bytes == 1 << 20
    assert "spool.max_bytes" in str(error_for(tmp_path, BASE + "\n[spool]\nmax_bytes = 10\n"))


def test_digest_after_is_a_discord_sink_option_in_seconds(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE), env={}).sinks["errors"].options.digest_after == 60
    text = BASE.replace('username = "StatsBot logs"', "digest_after = 5")
    assert load_config(write(tmp_path, text), env={}).sinks["errors"].options.digest_after == 5.0
    bad = BASE.replace('username = "StatsBot logs"', "digest_after = -1")
    assert "sinks.errors.digest_after" in str(error_for(tmp_path, bad))
