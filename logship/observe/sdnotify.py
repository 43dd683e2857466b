"""systemd's readiness protocol (sd_notify), spoken directly over a datagram socket.

Under `Type=notify` systemd waits for `READY=1` before it calls the unit started, shows
our `STATUS=` line in `systemctl status`, and, with `WatchdogSec=`, restarts the
service when `WATCHDOG=1` pings stop. The protocol is a few `KEY=VALUE` lines sent to
the AF_UNIX datagram socket named by `$NOTIFY_SOCKET`, so logship speaks it itself
rather than depending on libsystemd or a binding for it. Outside systemd (no
`$NOTIFY_SOCKET`) every call is a cheap no-op, so the daemon can notify unconditionally.

A notification must never take the daemon down: a send that fails (socket gone,
receiver's queue full) is logged once at debug level and reported as False.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("logship.observe.sdnotify")


def socket_address(value: str) -> str | bytes | None:
    """The address to send to for a `$NOTIFY_SOCKET` value; None when unusable.

    A leading "@" names Linux's abstract namespace, written with a NUL byte on the wire.

    >>> socket_address("/run/systemd/notify")
    '/run/systemd/notify'
    >>> socket_address("@logship/notify")
    b'\\x00logship/notify'
    >>> socket_address("") is None, socket_address("vsock:2:1234") is None
    (True, True)
    """
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def watchdog_period(env: Mapping[str, str], pid: int) -> float | None:
    """How often to ping, in seconds: half of `$WATCHDOG_USEC`, or None when it is off.

    `$WATCHDOG_PID`, when set, must be `pid`: the watchdog belongs to that process only.

    >>> watchdog_period({"WATCHDOG_USEC": "30000000"}, pid=42)
    15.0
    >>> watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, pid=42) is None
    True
    >>> watchdog_period({}, pid=42) is None, watchdog_period({"WATCHDOG_USEC": "x"}, 1) is None
    (True, True)
    """
    if env.get("WATCHDOG_PID") not in (None, str(pid)):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Notifier:
    """Sends state changes to systemd; does nothing when not started by systemd.

    >>> notifier = Notifier(env={})
    >>> notifier.enabled, notifier.ready(), notifier.watchdog_interval() is None
    (False, False, True)
    """

    def __init__(self, env: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        self._env = os.environ if env is None else env
        self._pid = os.getpid() if pid is None else pid
        self._address = socket_address(self._env.get("NOTIFY_SOCKET", ""))
        self._sock: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when `$NOTIFY_SOCKET` names a socket to notify."""
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `KEY=VALUE` lines in one datagram; True when it was sent."""
        if self._address is None or not assignments:
            return False
        message = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)  # never stall the event loop
            self._sock.sendto(message, self._address)
        except OSError as exc:
            if not self._failed:
                log.debug("sd_notify to %r failed: %s", self._env.get("NOTIFY_SOCKET"), exc)
            self._failed = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup (or a reload) is complete: sources are open and sinks are running."""
        return self.notify("READY=1", *_status(status))

    def reloading(self) -> bool:
        """A reload began (SIGHUP); send `ready()` when it is done (Type=notify-reload)."""
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now_usec}")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown began: draining queues, then exit."""
        return self.notify("STOPPING=1", *_status(status))

    def status(self, text: str) -> bool:
        """Set the one-line status `systemctl status logship` shows."""
        return self.notify(*_status(text))

    def watchdog(self) -> bool:
        """Tell the watchdog this process is alive."""
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of `WatchdogSec=`), None when it is off."""
        return watchdog_period(self._env, self._pid) if self.enabled else None

    async def keepalive(self, status: Callable[[], str] | None = None) -> None:
        """Ping the watchdog until cancelled, refreshing the status line with each ping.

        Returns at once when there is no watchdog: logship never wakes up just to poll.
        """
        interval = self.watchdog_interval()
        if interval is None:
            return
        last = None
        while True:
            text = _safely(status)
            if text is not None and text != last:
                self.notify("WATCHDOG=1", *_status(text))
                last = text
            else:
                self.watchdog()
            await asyncio.sleep(interval)

    def close(self) -> None:
        """Release the socket (a later notification opens it again)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def _safely(status: Callable[[], str] | None) -> str | None:
    """The status text; None when there is none or making it failed (the ping must go)."""
    if status is None:
        return None
    try:
        return status()
    except Exception:
        log.exception("building the status line failed")
        return None


def _status(text: str | None) -> tuple[str, ...]:
    """The STATUS= assignment for `text`, on one line (systemd shows one line)."""
    if not text:
        return ()
    return ("STATUS=" + " ".join(text.split()),)
