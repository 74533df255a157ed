"""Stable identifiers for usage and cost: services, operations, categories, rate keys.

0.1.3's ``il_audit.config.cost_catalog``, every constant at its 0.1.3 value,
plus 1.0.35's additions (pricing tiers, chat categories). The values are
persisted in ``events.usage`` and ``cost_rates``: append, never rename.
"""

from typing import Final

# Services (cost_rates.service).
SERVICE_VERTEX_GEMINI: Final = "vertex_gemini"
SERVICE_VERTEX_EMBEDDING: Final = "vertex_embedding"
SERVICE_VERTEX_RERANK: Final = "vertex_rerank"
SERVICE_DRIVE_API: Final = "drive_api"
SERVICE_CLOUD_RUN: Final = "cloud_run"
SERVICE_GCS: Final = "gcs"

# Operations.
OPERATION_GENERATE_CONTENT: Final = "generate_content"
OPERATION_GENERATE_CONTENT_BATCH: Final = "generate_content_batch"
OPERATION_EMBED_CONTENT: Final = "embed_content"
OPERATION_SEMANTIC_RANKER: Final = "semantic_ranker"
OPERATION_FILES_GET: Final = "files.get"

# Token categories: ingest, then chat (1.0.35).
API_CATEGORY_VISION: Final = "vision"
API_CATEGORY_TAGGING: Final = "tagging"
API_CATEGORY_SUMMARY: Final = "summary"
API_CATEGORY_EMBEDDING: Final = "embedding"
API_CATEGORY_CONTEXTUALIZER: Final = "contextualizer"
API_CATEGORY_FORMAT_PREFERENCE: Final = "format_preference"
API_CATEGORY_ANSWER: Final = "answer"
API_CATEGORY_RERANK: Final = "rerank"
API_CATEGORY_CONVERSATION_TITLE: Final = "conversation_title"

# Correlation types.
CORRELATION_INGEST_JOB: Final = "ingest_job"
CORRELATION_INGEST_FILE: Final = "ingest_file"
CORRELATION_CHAT_TURN: Final = "chat_turn"
CORRELATION_CHAT_CONVERSATION: Final = "chat_conversation"
CORRELATION_DRIVE_PIPELINE: Final = "drive_pipeline"
CORRELATION_CLIENT_RECONCILE: Final = "client_reconcile"

# Resource types.
RESOURCE_CLOUD_RUN_CPU_SECONDS: Final = "cloud_run_cpu_seconds"
RESOURCE_GCS_STAGING_BYTES: Final = "gcs_staging_bytes"
RESOURCE_POSTGRES_CHUNK_WRITES: Final = "postgres_chunk_writes"
RESOURCE_DRIVE_API_CALLS: Final = "drive_api_calls"

# Unit rate keys (cost_rates.model_id).
RESOURCE_RATE_CPU_SECOND: Final = "cpu_second"
RESOURCE_RATE_STORAGE_BYTE: Final = "storage_byte"

# Pricing provenance (events.pricing_source).
PRICING_SOURCE_SEED_CATALOG: Final = "seed_catalog"
PRICING_SOURCE_BIGQUERY_CATALOG: Final = "bigquery_catalog"

# Catalog source (IL_COST_RATES_SOURCE).
COST_RATES_SOURCE_SEED: Final = "seed"
COST_RATES_SOURCE_BIGQUERY: Final = "bigquery"

# Pricing tiers (1.0.35).
PRICING_TIER_STANDARD: Final = "standard"
PRICING_TIER_BATCH: Final = "batch"
