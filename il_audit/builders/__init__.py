"""The seed's ``il_audit.builders`` package path: 0.1.3's ``envelope_builder`` and 1.0.35's
``chat_builder``."""
