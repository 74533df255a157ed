-- 0.1.3 table chat_turns, as a view over events: one row per chat turn
-- (chat.turn.succeeded / chat.turn.failed), with its question, retrieval,
-- latency, tokens and cost. The 0.1.3 columns first (same names, order and
-- types), then 1.0.35's additions in 1.0.35's order, then il-audit's:
-- question_hmac, question_length, time_to_first_token_ms, model_calls,
-- pricing_status.
-- turn_id is the event_id; logged_at is occurred_at; the turn fields are the
-- emit() keywords of the same name, read from payload; latency_ms_total is
-- payload.latency_ms (the whole turn; else latency_ms_total), latencies are
-- rounded to whole ms. sources_json is payload.sources as JSON text, NULL when
-- missing or empty, and sources_returned_count falls back to its length.
-- The turn's calls are its own usage items plus the usage events correlated to
-- it, each counted once (chat_turn_costs): input_tokens / output_tokens sum
-- their token items, else come from payload; api_cost_usd is the cost of the
-- token items as the subscriber priced them, resource_cost_usd that of the
-- others (e.g. rerank queries), total_cost_usd of all (FLOAT64, as 0.1.3), and
-- pricing_status says whether every one of them was priced. model_calls is
-- payload.model_calls, else the number of calls.
-- conversation_id is payload.conversation_id, else the session_id.
WITH turns AS (
  -- Columns spelled out rather than e.*: the BigQuery stand-in's rewriter loses a
  -- WHERE on a star-expanded column of a view.
  SELECT
    e.event_id,
    e.event_type,
    e.session_id,
    e.app,
    e.environment,
    e.app_version,
    e.actor_uid,
    e.actor_email,
    e.occurred_at,
    e.status,
    e.trace_id,
    e.metadata,
    e.payload,
    c.usage_items,
    c.input_tokens AS usage_input_tokens,
    c.output_tokens AS usage_output_tokens,
    c.api_cost_usd AS usage_api_cost_usd,
    c.resource_cost_usd AS usage_resource_cost_usd,
    c.total_cost_usd AS usage_total_cost_usd,
    c.pricing_status
  FROM events_deduped AS e
  LEFT JOIN chat_turn_costs AS c ON c.turn_id = e.event_id
  WHERE e.event_type IN ('chat.turn.succeeded', 'chat.turn.failed')
)
SELECT
  t.event_id AS turn_id,
  t.session_id,
  t.app,
  t.actor_uid,
  t.actor_email,
  t.occurred_at AS logged_at,
  JSON_VALUE(t.payload, '$.question') AS question,
  JSON_VALUE(t.payload, '$.question_sha256') AS question_sha256,
  SAFE_CAST(JSON_VALUE(t.payload, '$.history_turn_count') AS INT64) AS history_turn_count,
  SAFE_CAST(JSON_VALUE(t.payload, '$.turn_index') AS INT64) AS turn_index,
  JSON_VALUE(t.payload, '$.response_type') AS response_type,
  JSON_VALUE(t.payload, '$.summary_scope') AS summary_scope,
  SAFE_CAST(JSON_VALUE(t.payload, '$.include_hidden_slides') AS BOOL) AS include_hidden_slides,
  SAFE_CAST(JSON_VALUE(t.payload, '$.attached_source_count') AS INT64) AS attached_source_count,
  SAFE_CAST(JSON_VALUE(t.payload, '$.used_attached_only') AS BOOL) AS used_attached_only,
  JSON_VALUE(t.payload, '$.retrieval_query') AS retrieval_query,
  SAFE_CAST(JSON_VALUE(t.payload, '$.retrieval_hit_count') AS INT64) AS retrieval_hit_count,
  COALESCE(
    SAFE_CAST(JSON_VALUE(t.payload, '$.sources_returned_count') AS INT64),
    ARRAY_LENGTH(JSON_QUERY_ARRAY(t.payload, '$.sources'))
  ) AS sources_returned_count,
  SAFE_CAST(JSON_VALUE(t.payload, '$.no_docs') AS BOOL) AS no_docs,
  CAST(
    ROUND(
      COALESCE(
        SAFE_CAST(JSON_VALUE(t.payload, '$.latency_ms') AS FLOAT64),
        SAFE_CAST(JSON_VALUE(t.payload, '$.latency_ms_total') AS FLOAT64)
      )
    ) AS INT64
  ) AS latency_ms_total,
  CAST(
    ROUND(SAFE_CAST(JSON_VALUE(t.payload, '$.latency_ms_retrieval') AS FLOAT64)) AS INT64
  ) AS latency_ms_retrieval,
  CAST(ROUND(SAFE_CAST(JSON_VALUE(t.payload, '$.latency_ms_llm') AS FLOAT64)) AS INT64)
    AS latency_ms_llm,
  JSON_VALUE(t.payload, '$.llm_model') AS llm_model,
  COALESCE(
    t.usage_input_tokens, SAFE_CAST(JSON_VALUE(t.payload, '$.input_tokens') AS INT64)
  ) AS input_tokens,
  COALESCE(
    t.usage_output_tokens, SAFE_CAST(JSON_VALUE(t.payload, '$.output_tokens') AS INT64)
  ) AS output_tokens,
  CAST(t.usage_api_cost_usd AS FLOAT64) AS api_cost_usd,
  CAST(t.usage_resource_cost_usd AS FLOAT64) AS resource_cost_usd,
  CAST(t.usage_total_cost_usd AS FLOAT64) AS total_cost_usd,
  COALESCE(t.status, IF(t.event_type = 'chat.turn.failed', 'failed', 'succeeded')) AS status,
  -- The field access, not JSON_QUERY: the BigQuery stand-in encodes TO_JSON_STRING of
  -- JSON_QUERY's result a second time, as a JSON string.
  IF(
    ARRAY_LENGTH(JSON_QUERY_ARRAY(t.payload, '$.sources')) > 0,
    TO_JSON_STRING(t.payload.sources),
    NULL
  ) AS sources_json,
  t.trace_id,
  COALESCE(JSON_VALUE(t.payload, '$.conversation_id'), t.session_id) AS conversation_id,
  JSON_VALUE(t.payload, '$.visit_session_id') AS visit_session_id,
  t.environment,
  SAFE_CAST(JSON_VALUE(t.payload, '$.user_message_count') AS INT64) AS user_message_count,
  SAFE_CAST(JSON_VALUE(t.payload, '$.assistant_message_count') AS INT64)
    AS assistant_message_count,
  SAFE_CAST(JSON_VALUE(t.payload, '$.message_count') AS INT64) AS message_count,
  JSON_VALUE(t.payload, '$.workflow') AS workflow,
  NULLIF(TO_JSON_STRING(t.metadata), '{}') AS metadata_json,
  JSON_VALUE(t.payload, '$.error_class') AS error_class,
  t.app_version,
  JSON_VALUE(t.payload, '$.question_hmac') AS question_hmac,
  SAFE_CAST(JSON_VALUE(t.payload, '$.question_length') AS INT64) AS question_length,
  CAST(
    ROUND(SAFE_CAST(JSON_VALUE(t.payload, '$.time_to_first_token_ms') AS FLOAT64)) AS INT64
  ) AS time_to_first_token_ms,
  COALESCE(
    SAFE_CAST(JSON_VALUE(t.payload, '$.model_calls') AS INT64), t.usage_items
  ) AS model_calls,
  t.pricing_status
FROM turns AS t
