"""Events to Discord Execute Webhook bodies that Discord always accepts.

Every Discord limit is enforced here, before anything is sent, by cutting text instead
of failing (a refused message is never resent as is). By concern:

- `limits`: Discord's documented limits, as constants;
- `text`: cleaning and cutting text, code blocks, values as text;
- `embed`: one embed within every limit (a layout composed, or a template's fitted),
  its size, its traceback file, its plain-text form;
- `layouts`: what each kind of event shows (error, performance, member, status, log);
- `digest`: a backlog as one line per event;
- `eventlog`: events in full as `events.log` files;
- `message`: request bodies, packing, mentions;
- `renderer`: `Renderer`, one sink's view of all this (what the worker calls).

Everything here is a pure function of its arguments: no I/O, no clock, no environment.
"""

from logship.sinks.discord.render.digest import digest_embeds
from logship.sinks.discord.render.embed import Attachment, Embed
from logship.sinks.discord.render.layouts import KINDS, render_embed
from logship.sinks.discord.render.limits import (
    ATTACHMENT_DESCRIPTION_MAX,
    AUTHOR_MAX,
    AVATAR_URL_MAX,
    BODY_RESERVE,
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBEDS_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    FILE_MAX,
    FILES_MAX,
    FOOTER_MAX,
    MENTIONS_PER_TYPE,
    SUPPRESS_NOTIFICATIONS,
    THREAD_NAME_MAX,
    TITLE_MAX,
    TOTAL_MAX,
    USERNAME_MAX,
)
from logship.sinks.discord.render.message import Message, build_payload, pack
from logship.sinks.discord.render.renderer import Renderer, TemplateSet

__all__ = [
    "ATTACHMENT_DESCRIPTION_MAX",
    "AUTHOR_MAX",
    "AVATAR_URL_MAX",
    "BODY_RESERVE",
    "CONTENT_MAX",
    "DESCRIPTION_MAX",
    "EMBEDS_MAX",
    "FIELDS_MAX",
    "FIELD_NAME_MAX",
    "FIELD_VALUE_MAX",
    "FILES_MAX",
    "FILE_MAX",
    "FOOTER_MAX",
    "KINDS",
    "MENTIONS_PER_TYPE",
    "SUPPRESS_NOTIFICATIONS",
    "THREAD_NAME_MAX",
    "TITLE_MAX",
    "TOTAL_MAX",
    "USERNAME_MAX",
    "Attachment",
    "Embed",
    "Message",
    "Renderer",
    "TemplateSet",
    "build_payload",
    "digest_embeds",
    "pack",
    "render_embed",
]
