"""0.1.3's ``il_audit.builders`` package path (see ``envelope_builder``)."""
