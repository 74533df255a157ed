"""Free TCP ports on 127.0.0.1 and waiting for a server to answer."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def busy(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port`` (so a server cannot bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether something answers HTTP at ``url`` (any status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - local URL we built
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_for_http(url: str, timeout: float, *, alive: object = None) -> bool:
    """Poll ``url`` until it answers (any HTTP status) or ``timeout`` passes.

    ``alive`` may be a callable returning False when the server process died,
    to stop waiting early.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            return False
        if answers(url):
            return True
        time.sleep(0.1)
    return False
