"""1.0.35's module path for the conversation beacon handler (code in il_audit.publisher.beacon)."""

from il_audit.publisher.beacon.handlers import handle_conversation_beacon_events

__all__ = ["handle_conversation_beacon_events"]
