"""Discord webhooks as a sink (`type = "discord"`, the default): options
(`options`), rendering by concern (`render`), templates, the HTTP client and Discord's
rate limits; `sink.DiscordSink` puts them together for the worker.

Importing this package stays cheap (`logship check` validates options through it): the
HTTP client, Jinja2 and the renderer are imported when a sink is built or a template
checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from logship.sinks.discord.options import KEYS, DiscordOptions, parse_options

if TYPE_CHECKING:
    from logship.config import Config, Reader, SinkConfig
    from logship.sinks.base import Sink, SinkContext
    from logship.sinks.discord.templates import Templates

__all__ = ["TYPE", "DiscordOptions"]


class DiscordType:
    """`type = "discord"`."""

    name = "discord"
    keys = KEYS

    def parse_options(self, reader: Reader, table: Mapping[str, Any], key: str
                      ) -> DiscordOptions:
        return parse_options(reader, table, key)

    def check(self, config: Config) -> None:
        """Templates compile, and every template a route names exists (a built-in layout
        or a configured one)."""
        templates = compiled_templates(config)
        named = [(i, route.template) for i, route in enumerate(config.routes) if route.template]
        if not named:
            return
        from logship.sinks.discord.render import KINDS

        known = {*KINDS, *(templates.names if templates is not None else ())}
        for i, name in named:
            if name not in known:
                from logship.errors import ConfigError

                raise ConfigError(config.path, f"routes[{i}].template",
                                  f"unknown template {name!r} (known: "
                                  f"{', '.join(sorted(known))})")

    def build(self, config: SinkConfig, context: SinkContext) -> Sink:
        from logship.sinks.discord.sink import DiscordSink

        return DiscordSink(config, context)

    def describe(self, options: DiscordOptions) -> str:
        extra = f" username={options.username!r}" if options.username else ""
        channel = f" channel={options.channel}" if options.channel else ""
        return (f"{options.url.masked}{extra}{channel} (budget {options.webhook_requests} "
                f"req/{options.webhook_window:g}s, {options.channel_messages} "
                f"msg/{options.channel_window:g}s)")

    def same_target(self, old: DiscordOptions, new: DiscordOptions) -> bool:
        return old.url == new.url


def compiled_templates(config: Config) -> Templates | None:
    """The config's `[templates.NAME]` tables and `templates_dir` files, compiled; None
    when there are none (and Jinja2 is then not even imported)."""
    if not config.templates and config.templates_dir is None:
        return None
    from logship.sinks.discord.templates import TemplateError, load_templates

    try:
        return load_templates(config.templates, config.templates_dir)
    except TemplateError as exc:
        raise exc.within(config.path) from None


TYPE = DiscordType()
