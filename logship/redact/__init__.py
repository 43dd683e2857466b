"""Secrets and personal data, removed before anything leaves the host.

- `secrets`: the `Redactor` (secrets out of every event a route sends anywhere, once,
  before it is queued or spooled), its `[redact]` configuration and built-in patterns;
- `privacy`: per-sink `Privacy` (member ids kept, masked or hashed; usernames kept or
  dropped), applied to each event a sink renders;
- `scrub`: webhook tokens out of logship's own log lines and spooled errors.

All of it is pure: no I/O, no clock, no environment.
"""

from logship.redact.privacy import (
    DEFAULT_ID_KEYS,
    DEFAULT_USERNAME_KEYS,
    DEFAULT_USERNAME_PATTERN,
    MIN_SECRET_BYTES,
    Privacy,
    PrivacyConfig,
    mask_id,
    parse_privacy,
)
from logship.redact.scrub import ScrubbingFormatter, scrub_tokens
from logship.redact.secrets import (
    BUILTINS,
    DEFAULT_BUILTINS,
    DEFAULT_SENSITIVE_KEYS,
    MAX_DEPTH,
    OPTIONAL_BUILTINS,
    CustomPattern,
    RedactConfig,
    RedactConfigError,
    Redactor,
    parse_redact,
)

__all__ = [
    "BUILTINS",
    "DEFAULT_BUILTINS",
    "DEFAULT_ID_KEYS",
    "DEFAULT_SENSITIVE_KEYS",
    "DEFAULT_USERNAME_KEYS",
    "DEFAULT_USERNAME_PATTERN",
    "MAX_DEPTH",
    "MIN_SECRET_BYTES",
    "OPTIONAL_BUILTINS",
    "CustomPattern",
    "Privacy",
    "PrivacyConfig",
    "RedactConfig",
    "RedactConfigError",
    "Redactor",
    "ScrubbingFormatter",
    "mask_id",
    "parse_privacy",
    "parse_redact",
    "scrub_tokens",
]
