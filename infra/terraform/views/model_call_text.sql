/* What did each model call see and answer? One row per chat.model_call.text */
/* event (stored only when IL_AUDIT_STORE_MODEL_CALL_TEXT is on), with */
/* il-audit 1.0.35's model_call_text columns, names, order and types: the */
/* prompt and completion (up to 10 MiB of UTF-8 each, cut past that, with */
/* *_truncated flags), the call's place in its turn (sequence, attempt), its */
/* model, settings and outcome. call_id is the event_id; logged_at is */
/* occurred_at; correlation_id is the turn (correlation_type 'chat_turn') or */
/* conversation it belongs to; conversation_id is payload.conversation_id, else */
/* the session_id. The other fields are read from payload. */
/* A text too long for one event travels in chat.model_call.text.part events */
/* (the call's payload.text_id, part_index from 0, part_count; the call says */
/* prompt_parts / completion_parts); they are joined here in part order, each */
/* part once however often it was delivered. When a part is missing the text */
/* is the parts before it followed by '\n…[truncated]', and *_truncated is */
/* true: a truncated text, never a wrong one. */
WITH calls AS (
  /* Columns spelled out rather than e.*: the BigQuery stand-in's rewriter loses a */
  /* WHERE on a star-expanded column of a view. */
  SELECT
    e.event_id,
    e.occurred_at,
    e.app,
    e.environment,
    e.actor_uid,
    e.actor_email,
    e.session_id,
    e.correlation_id,
    e.correlation_type,
    e.app_version,
    e.trace_id,
    e.payload,
    JSON_VALUE(e.payload, '$.text_id') AS text_id,
    SAFE_CAST(JSON_VALUE(e.payload, '$.prompt_parts') AS INT64) AS prompt_parts,
    SAFE_CAST(JSON_VALUE(e.payload, '$.completion_parts') AS INT64) AS completion_parts
  FROM `${project}`.`${dataset}`.events_deduped AS e
  WHERE
    e.event_type = 'chat.model_call.text'
), parts AS (
  /* One row per part: a part delivered twice (even under another event_id) counts once. */
  SELECT
    p.text_id,
    p.text_field,
    p.part_count,
    p.part_index,
    p.text
  FROM (
    SELECT
      JSON_VALUE(e.payload, '$.text_id') AS text_id,
      JSON_VALUE(e.payload, '$.text_field') AS text_field,
      SAFE_CAST(JSON_VALUE(e.payload, '$.part_count') AS INT64) AS part_count,
      SAFE_CAST(JSON_VALUE(e.payload, '$.part_index') AS INT64) AS part_index,
      JSON_VALUE(e.payload, '$.text') AS text,
      e.event_id
    FROM `${project}`.`${dataset}`.events_deduped AS e
    WHERE
      e.event_type = 'chat.model_call.text.part'
  ) AS p
  WHERE
    NOT p.text IS NULL AND p.part_index >= 0 AND p.part_index < p.part_count
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY p.text_id, p.text_field, p.part_count, p.part_index
      ORDER BY p.event_id
    ) = 1
), runs AS (
  /* A part is in its text's run when every part before it is here too. */
  SELECT
    p.text_id,
    p.text_field,
    p.part_count,
    p.part_index,
    p.text,
    ROW_NUMBER() OVER (PARTITION BY p.text_id, p.text_field, p.part_count ORDER BY p.part_index) - 1 = p.part_index AS in_run
  FROM parts AS p
), texts AS (
  SELECT
    r.text_id,
    r.text_field,
    r.part_count,
    STRING_AGG(r.text, ''
    ORDER BY
      r.part_index) AS text,
    COUNT(*) = r.part_count AS whole
  FROM runs AS r
  WHERE
    r.in_run
  GROUP BY
    r.text_id,
    r.text_field,
    r.part_count
)
SELECT
  c.event_id AS call_id,
  c.occurred_at AS logged_at,
  c.app,
  c.environment,
  c.actor_uid,
  c.actor_email,
  COALESCE(JSON_VALUE(c.payload, '$.conversation_id'), c.session_id) AS conversation_id,
  c.correlation_id,
  c.correlation_type,
  SAFE_CAST(JSON_VALUE(c.payload, '$.sequence') AS INT64) AS sequence,
  JSON_VALUE(c.payload, '$.category') AS category,
  JSON_VALUE(c.payload, '$.operation') AS operation,
  JSON_VALUE(c.payload, '$.model_id') AS model_id,
  SAFE_CAST(JSON_VALUE(c.payload, '$.attempt') AS INT64) AS attempt,
  SAFE_CAST(JSON_VALUE(c.payload, '$.succeeded') AS BOOL) AS succeeded,
  JSON_VALUE(c.payload, '$.error_type') AS error_type,
  JSON_VALUE(c.payload, '$.prompt_source') AS prompt_source,
  SAFE_CAST(JSON_VALUE(c.payload, '$.temperature') AS FLOAT64) AS temperature,
  JSON_VALUE(c.payload, '$.thinking_level') AS thinking_level,
  SAFE_CAST(JSON_VALUE(c.payload, '$.thought_tokens') AS INT64) AS thought_tokens,
  SAFE_CAST(JSON_VALUE(c.payload, '$.cached_tokens') AS INT64) AS cached_tokens,
  JSON_VALUE(c.payload, '$.finish_reason') AS finish_reason,
  c.app_version,
  CASE
    WHEN c.text_id IS NULL
    THEN JSON_VALUE(c.payload, '$.prompt')
    WHEN c.prompt_parts = 0
    THEN ''
    ELSE CONCAT(COALESCE(p.text, ''), IF(COALESCE(p.whole, FALSE), '', '\n…[truncated]'))
  END AS prompt,
  CASE
    WHEN c.text_id IS NULL
    THEN JSON_VALUE(c.payload, '$.completion')
    WHEN c.completion_parts = 0
    THEN ''
    ELSE CONCAT(COALESCE(q.text, ''), IF(COALESCE(q.whole, FALSE), '', '\n…[truncated]'))
  END AS completion,
  CASE
    WHEN c.text_id IS NULL
    THEN SAFE_CAST(JSON_VALUE(c.payload, '$.prompt_truncated') AS BOOL)
    ELSE COALESCE(SAFE_CAST(JSON_VALUE(c.payload, '$.prompt_truncated') AS BOOL), FALSE)
    OR NOT COALESCE(p.whole, c.prompt_parts = 0, FALSE)
  END AS prompt_truncated,
  CASE
    WHEN c.text_id IS NULL
    THEN SAFE_CAST(JSON_VALUE(c.payload, '$.completion_truncated') AS BOOL)
    ELSE COALESCE(SAFE_CAST(JSON_VALUE(c.payload, '$.completion_truncated') AS BOOL), FALSE)
    OR NOT COALESCE(q.whole, c.completion_parts = 0, FALSE)
  END AS completion_truncated,
  c.trace_id
FROM calls AS c
LEFT JOIN texts AS p
  ON p.text_id = c.text_id
  AND p.text_field = 'prompt'
  AND p.part_count = c.prompt_parts
LEFT JOIN texts AS q
  ON q.text_id = c.text_id
  AND q.text_field = 'completion'
  AND q.part_count = c.completion_parts
