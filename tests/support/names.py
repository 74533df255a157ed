"""Unique Pub/Sub resource names for one test session: one counter for every helper.

Each helper that named topics with its own counter (``<prefix>-<pid>-<n>``) could meet
another's: ``Stack("dlq")`` and ``create_topic_with_subscription("dlq")`` both made
``dlq-<pid>-1``, and one test then read the other's messages. Every name comes from here.
"""

from __future__ import annotations

import itertools
import os

_counter = itertools.count(1)


def unique_name(prefix: str) -> str:
    """``<prefix>-<pid>-<n>``, never the same twice in this process (nor across processes)."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}"
