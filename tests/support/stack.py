"""A local stack for end-to-end tests: provisioned emulator layout plus a restartable function."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from il_audit.devtools.local_stack import (
    FunctionServer,
    PubSubLayout,
    provision_pubsub,
    start_function,
)
from il_audit.publisher import AuditPublisher
from tests.support import duck
from tests.support.cli import ROOT, run_cli
from tests.support.factories import make_settings
from tests.support.names import unique_name
from tests.support.pubsub import PROJECT
from tests.support.waiting import wait_until  # re-exported: its home is tests.support.waiting

__all__ = ["ROOT", "Stack", "wait_until"]
DLQ_PULL_TIMEOUT = {"IL_AUDIT_DLQ_PULL_TIMEOUT": "0.5"}
"""For the ``dlq`` commands: the emulator holds an empty pull for its deadline less a second,
so a run's last, empty pulls return at once (the in-process sources use 0.5 s too) instead of
adding about 2 s to every command."""


class Stack:
    """Topic, dead-letter topic, push subscription and a function writing to DuckDB."""

    def __init__(self, emulator_host: str, directory: Path, prefix: str = "stack") -> None:
        self.emulator_host = emulator_host
        self.database = directory / "stack.duckdb"
        self.layout = PubSubLayout.for_topic(PROJECT, unique_name(prefix))
        self.server: FunctionServer | None = None
        self.port: int | None = None

    @property
    def env(self) -> dict[str, str]:
        """What an app or the CLI needs to talk to this stack."""
        return {
            "PUBSUB_EMULATOR_HOST": self.emulator_host,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": self.layout.topic,
            "IL_AUDIT_DLQ_TOPIC": self.layout.dlq_topic,
        }

    def start_function(self, **extra_env: str) -> FunctionServer:
        """(Re)start the function on the same port, writing ``database`` unless overridden."""
        self.stop_function()
        env = {**self.env, "IL_AUDIT_SINK": "duckdb", "IL_AUDIT_DUCKDB_PATH": str(self.database)}
        self.server = start_function({**env, **extra_env}, port=self.port)
        self.port = self.server.port
        return self.server

    def provision(self, **policy: Any) -> None:
        """Create topics and subscriptions pointing at the running function."""
        assert self.server is not None
        provision_pubsub(self.layout, self.server.url, **policy)

    def stop_function(self) -> None:
        """Stop the function if it runs."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def publisher(self, **settings: Any) -> AuditPublisher:
        """A publisher for this stack's topic."""
        return AuditPublisher(
            make_settings(transport="pubsub", project=PROJECT, topic=self.layout.topic, **settings)
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows from the stack's DuckDB file ([] while it is busy or missing)."""
        return duck.peek(self.database, sql)

    def count(self, sql: str) -> int:
        """The single number ``sql`` returns (-1 while unreadable)."""
        return duck.count(self.database, sql)

    def cli(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 180,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``il-audit ARGS`` in a fresh process against this stack (from ``cwd``)."""
        return run_cli(
            *args, env={**self.env, **DLQ_PULL_TIMEOUT, **(env or {})}, timeout=timeout, cwd=cwd
        )

    def dlq_groups(self, **env: str) -> list[dict[str, Any]]:
        """``il-audit dlq inspect --format json`` of this stack's dead-letter subscription."""
        result = self.cli("dlq", "inspect", "--format", "json", env=env)
        assert result.returncode == 0, result.stderr
        groups: list[dict[str, Any]] = json.loads(result.stdout)
        return groups

    def dlq_messages(self) -> int:
        """How many messages wait in the dead-letter subscription (peeked in-process, not acked)."""
        from il_audit.operations.dlq import PubSubSource, inspect

        source = PubSubSource(
            f"projects/{PROJECT}/subscriptions/{self.layout.dlq_subscription}",
            lease_seconds=10,
            pull_timeout=0.5,
        )
        try:
            return sum(group.messages for group in inspect(source, limit=None))
        finally:
            source.close()
