"""Beacon tests start without IL_BEACON_* / IL_AUDIT_HASH_KEY and with fresh beacon settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from il_audit.publisher.beacon import reset_beacon_settings_cache
from il_audit.publisher.beacon._settings import BEACON_ENV, HASH_KEY_VARIABLE


@pytest.fixture(autouse=True)
def _beacon_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in (*BEACON_ENV.values(), HASH_KEY_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    reset_beacon_settings_cache()
    yield
    reset_beacon_settings_cache()
