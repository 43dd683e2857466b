"""logship: tail a bot's log files and deliver its events to Discord webhooks, losing nothing."""

__version__ = "0.1.0"
