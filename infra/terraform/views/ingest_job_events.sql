/* 0.1.3 table ingest_job_events, as a view over events: each ingest job's start, */
/* preflight and outcome, with its counts, tokens and cost. The 0.1.3 columns */
/* first (same names, order and types), then 1.0.35's environment. The job fields are the emit() keywords of the same */
/* name, read from payload. When the app did not pass tokens_total or the costs, */
/* they come from the event's usage items as the subscriber priced them: token */
/* items are API cost, the others resource cost, and total_cost_usd is the */
/* event's cost_usd. The per-purpose token counts (tokens_vision, ...) come from */
/* payload only. */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd, environment, correlation_id),
  JSON_VALUE(e.payload, '$.job_id') AS job_id,
  JSON_VALUE(e.payload, '$.mode') AS mode,
  JSON_VALUE(e.payload, '$.ingest_pipeline') AS ingest_pipeline,
  JSON_VALUE(e.payload, '$.target_path') AS target_path,
  SAFE_CAST(JSON_VALUE(e.payload, '$.elapsed_seconds') AS FLOAT64) AS elapsed_seconds,
  SAFE_CAST(JSON_VALUE(e.payload, '$.files_completed') AS INT64) AS files_completed,
  SAFE_CAST(JSON_VALUE(e.payload, '$.files_failed') AS INT64) AS files_failed,
  SAFE_CAST(JSON_VALUE(e.payload, '$.chunks_written') AS INT64) AS chunks_written,
  SAFE_CAST(JSON_VALUE(e.payload, '$.gcs_bytes_staged') AS INT64) AS gcs_bytes_staged,
  SAFE_CAST(JSON_VALUE(e.payload, '$.tokens_vision') AS INT64) AS tokens_vision,
  SAFE_CAST(JSON_VALUE(e.payload, '$.tokens_tagging') AS INT64) AS tokens_tagging,
  SAFE_CAST(JSON_VALUE(e.payload, '$.tokens_summary') AS INT64) AS tokens_summary,
  SAFE_CAST(JSON_VALUE(e.payload, '$.tokens_embedding') AS INT64) AS tokens_embedding,
  COALESCE(SAFE_CAST(JSON_VALUE(e.payload, '$.tokens_total') AS INT64), e.usage_tokens) AS tokens_total,
  COALESCE(
    SAFE_CAST(JSON_VALUE(e.payload, '$.api_cost_usd') AS FLOAT64),
    e.usage_api_cost_usd
  ) AS api_cost_usd,
  COALESCE(
    SAFE_CAST(JSON_VALUE(e.payload, '$.resource_cost_usd') AS FLOAT64),
    e.usage_resource_cost_usd
  ) AS resource_cost_usd,
  COALESCE(
    SAFE_CAST(JSON_VALUE(e.payload, '$.total_cost_usd') AS FLOAT64),
    CAST(e.cost_usd AS FLOAT64)
  ) AS total_cost_usd,
  JSON_VALUE(e.payload, '$.error') AS error,
  e.environment
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN (
    'ingest.job.started',
    'ingest.job.completed',
    'ingest.job.failed',
    'ingest.preflight'
  )
