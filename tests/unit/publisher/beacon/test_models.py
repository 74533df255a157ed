"""Item limits: the seed's, read from the settings, and never looser than the envelope's."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from il_audit.publisher import AuditContext
from il_audit.publisher.beacon import BeaconEventItem, BeaconRequest, schedule_beacon_rows
from il_audit.publisher.testing import capture_events
from tests.support.beacon import beacon_settings


def test_strings_are_limited_to_512_characters() -> None:
    """surface, element_id, resource_id and path take at most 512 characters by default."""
    BeaconEventItem(surface="s" * 512)
    with pytest.raises(ValidationError):
        BeaconEventItem(surface="s" * 513)


def test_string_limit_follows_the_settings_context() -> None:
    """The router's settings, passed as validation context, set the string limit."""
    context = {"settings": beacon_settings(string_max_length=10)}
    with pytest.raises(ValidationError):
        BeaconEventItem.model_validate({"element_id": "e" * 11}, context=context)


def test_string_limit_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a context, IL_BEACON_STRING_MAX_LENGTH applies."""
    from il_audit.publisher.beacon import reset_beacon_settings_cache

    monkeypatch.setenv("IL_BEACON_STRING_MAX_LENGTH", "5")
    reset_beacon_settings_cache()
    with pytest.raises(ValidationError):
        BeaconEventItem(surface="123456")


@pytest.mark.parametrize("field", ["resource_type", "interaction"])
def test_envelope_bounded_fields_stop_at_256(field: str) -> None:
    """resource_type and interaction stay within the envelope's 256 even with a larger limit."""
    context = {"settings": beacon_settings(string_max_length=1000)}
    BeaconEventItem.model_validate({field: "x" * 256}, context=context)
    with pytest.raises(ValidationError):
        BeaconEventItem.model_validate({field: "x" * 257}, context=context)


def test_longest_accepted_values_make_a_valid_envelope() -> None:
    """An item at every limit emits a valid envelope (capture is strict)."""
    item = BeaconEventItem(
        resource_type="r" * 256, interaction="i" * 256, resource_id="d" * 512, surface="s" * 512
    )
    with capture_events() as events:
        assert schedule_beacon_rows(context=AuditContext(app="web"), events=[item]) == 1
    assert events[0].action == "i" * 256


def test_metadata_is_measured_as_compact_utf8_json() -> None:
    """Metadata may take 8192 bytes of compact JSON; multi-byte characters count as bytes."""
    fits = {"k": "x" * (8192 - len('{"k":""}'))}
    BeaconEventItem(metadata=fits)
    with pytest.raises(ValidationError):
        BeaconEventItem(metadata={"k": "é" * 4096})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_metadata_is_refused(value: float) -> None:
    """NaN and Infinity are not JSON: metadata holding them is refused."""
    with pytest.raises(ValidationError, match="NaN or Infinity"):
        BeaconEventItem(metadata={"nested": [value]})


def test_nan_in_a_json_body_is_refused() -> None:
    """A JSON body with a NaN literal in metadata fails validation instead of becoming null."""
    with pytest.raises(ValidationError):
        BeaconRequest.model_validate_json(b'{"events":[{"metadata":{"a":NaN}}]}')


def test_client_ts_takes_512_characters_as_in_1_0_35() -> None:
    """client_ts accepts 512 characters (1.0.35's string limit; 0.1.3 had 64)."""
    assert BeaconEventItem(client_ts="t" * 512).client_ts == "t" * 512


def test_a_longer_client_ts_refuses_its_batch() -> None:
    """513 characters fail the item, and with it the whole batch (the seed's 422 rule)."""
    with pytest.raises(ValidationError, match="at most 512 characters"):
        BeaconRequest.model_validate({"events": [{}, {"client_ts": "t" * 513}]})


@pytest.mark.parametrize("field", ["duration_ms", "result_count"])
def test_counts_are_non_negative_int64(field: str) -> None:
    """duration_ms and result_count are integers from 0 to the INT64 maximum."""
    with pytest.raises(ValidationError):
        BeaconEventItem.model_validate({field: -1})
    with pytest.raises(ValidationError):
        BeaconEventItem.model_validate({field: 2**63})


def test_extra_item_keys_are_ignored() -> None:
    """Unknown item keys are ignored, as in the seed."""
    assert BeaconEventItem.model_validate({"unknown": 1}).event_type == "ui.tab.viewed"


def test_session_id_must_be_a_plain_token() -> None:
    """The body's session_id is a short token (no markup, no spaces)."""
    with pytest.raises(ValidationError):
        BeaconRequest(session_id="<b>x</b>")
