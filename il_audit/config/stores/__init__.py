"""0.1.3's ``il_audit.config.stores`` package path (see ``audit_schema_store``)."""
