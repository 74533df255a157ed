/* 0.1.3 table ingest_file_events, as a view over events: what happened to each */
/* file of an ingest job (indexed, failed, skipped), with chunks, timing, tokens */
/* and cost. The 0.1.3 columns first (same names, order and types), then */
/* 1.0.35's additions in its order: environment, correlation_id (the envelope's), */
/* started_at, ingestion_type and error_traceback. The file fields are the emit() */
/* keywords of the same name, read from payload; tokens_total and api_cost_usd */
/* fall back to the event's token usage items when the app did not pass them. */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd, environment, correlation_id),
  JSON_VALUE(e.payload, '$.job_id') AS job_id,
  JSON_VALUE(e.payload, '$.document_id') AS document_id,
  JSON_VALUE(e.payload, '$.drive_file_id') AS drive_file_id,
  JSON_VALUE(e.payload, '$.source_file') AS source_file,
  JSON_VALUE(e.payload, '$.ingest_pipeline') AS ingest_pipeline,
  JSON_VALUE(e.payload, '$.mode') AS mode,
  JSON_VALUE(e.payload, '$.stage') AS stage,
  JSON_VALUE(e.payload, '$.ingest_status') AS ingest_status,
  SAFE_CAST(JSON_VALUE(e.payload, '$.chunk_count') AS INT64) AS chunk_count,
  SAFE_CAST(JSON_VALUE(e.payload, '$.elapsed_seconds') AS FLOAT64) AS elapsed_seconds,
  JSON_VALUE(e.payload, '$.drive_revision_id') AS drive_revision_id,
  JSON_VALUE(e.payload, '$.content_sha256') AS content_sha256,
  SAFE_CAST(JSON_VALUE(e.payload, '$.drive_modified_at') AS TIMESTAMP) AS drive_modified_at,
  SAFE_CAST(JSON_VALUE(e.payload, '$.is_reingest') AS BOOL) AS is_reingest,
  SAFE_CAST(JSON_VALUE(e.payload, '$.previous_ingested_at') AS TIMESTAMP) AS previous_ingested_at,
  COALESCE(SAFE_CAST(JSON_VALUE(e.payload, '$.tokens_total') AS INT64), e.usage_tokens) AS tokens_total,
  COALESCE(
    SAFE_CAST(JSON_VALUE(e.payload, '$.api_cost_usd') AS FLOAT64),
    e.usage_api_cost_usd
  ) AS api_cost_usd,
  JSON_VALUE(e.payload, '$.error') AS error,
  e.environment,
  COALESCE(e.correlation_id, JSON_VALUE(e.payload, '$.correlation_id')) AS correlation_id,
  SAFE_CAST(JSON_VALUE(e.payload, '$.started_at') AS TIMESTAMP) AS started_at,
  JSON_VALUE(e.payload, '$.ingestion_type') AS ingestion_type,
  JSON_VALUE(e.payload, '$.error_traceback') AS error_traceback
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN ('ingest.file.indexed', 'ingest.file.failed', 'ingest.file.skipped')
