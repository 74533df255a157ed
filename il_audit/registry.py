"""0.1.3's ``il_audit.registry`` path: ``register_builder`` and ``get_builder``.

0.1.3's table routing (``resolve_table_id``, ``build_row``) is gone: every
event goes to ``events``, and the 0.1.3 tables are views over it (see the
migration table in docs/migrating.md).
"""

from il_audit.publisher.builders import BuilderFn, get_builder, register_builder

__all__ = ["BuilderFn", "get_builder", "register_builder"]
