"""Discord's limits on an Execute Webhook request, as constants.

Lengths are Unicode code points, the way Discord counts them (its API is Python 3:
discord/discord-api-docs#1315), so `len()` is the right measure; sizes of files and
requests are bytes. Breaking any one of these makes Discord refuse the whole message
(HTTP 400, code 50035). The emulator (`logship.emulator`) states them again on its own,
so that one checks the other.
"""

# Discord's documented limits, in code points (discord-api-docs, "Embed Limits" and
# "Execute Webhook"); see shared/discord/README.md.
CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
TOTAL_MAX = 6000
USERNAME_MAX = 80
AVATAR_URL_MAX = 2048
THREAD_NAME_MAX = 100
FILES_MAX = 10
FILE_MAX = 10 * 1024 * 1024  # bytes per file (Discord's default upload limit)
# Bytes of a request kept for its JSON part: at most 8000 code points of text (content and
# embeds), each at most 6 bytes as JSON escapes it, and the keys around them.
BODY_RESERVE = 64 * 1024
ATTACHMENT_DESCRIPTION_MAX = 1024
MENTIONS_PER_TYPE = 100  # allowed_mentions holds at most 100 roles and 100 users
SUPPRESS_NOTIFICATIONS = 1 << 12  # message flag: no push or desktop notification
