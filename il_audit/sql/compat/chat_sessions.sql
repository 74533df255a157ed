-- 0.1.3 table chat_sessions, as a view over events: one row per chat session
-- (app and session_id, the conversation's id), from its chat.session.started /
-- chat.session.ended events and its turns (chat.turn.*). The 0.1.3 columns
-- first (same names, order and types), then 1.0.35's additions in its order.
-- started_at is the earliest start (payload.started_at of a start or end, else
-- a start's time), else the session's first event; last_activity_at its latest
-- event; ended_at its latest ended event, with that event's ended_reason;
-- duration_seconds runs from started_at to ended_at (NULL when not ended, or
-- negative). turn_count is the number of distinct turns, or the largest
-- payload.turn_count when that is more; tokens and costs are summed over the
-- turns as chat_turns counts them (chat_turn_costs: each call once; FLOAT64
-- costs); the actor, environment and visit are the earliest event's that has
-- them; message counts the largest any event reported; conversation_id is
-- payload.conversation_id, else the session_id.
WITH session_events AS (
  SELECT
    e.event_id,
    e.event_type,
    e.app,
    e.session_id,
    e.occurred_at,
    e.event_type IN ('chat.turn.succeeded', 'chat.turn.failed') AS is_turn,
    FIRST_VALUE(e.actor_uid IGNORE NULLS) OVER earliest AS actor_uid,
    FIRST_VALUE(e.actor_email IGNORE NULLS) OVER earliest AS actor_email,
    FIRST_VALUE(e.environment IGNORE NULLS) OVER earliest AS environment,
    FIRST_VALUE(JSON_VALUE(e.payload, '$.conversation_id') IGNORE NULLS) OVER earliest
      AS conversation_id,
    FIRST_VALUE(JSON_VALUE(e.payload, '$.visit_session_id') IGNORE NULLS) OVER earliest
      AS visit_session_id,
    FIRST_VALUE(
      IF(e.event_type = 'chat.session.ended', JSON_VALUE(e.payload, '$.ended_reason'), NULL)
      IGNORE NULLS
    ) OVER latest AS ended_reason,
    CASE e.event_type
      WHEN 'chat.session.started' THEN
        COALESCE(SAFE_CAST(JSON_VALUE(e.payload, '$.started_at') AS TIMESTAMP), e.occurred_at)
      WHEN 'chat.session.ended' THEN SAFE_CAST(JSON_VALUE(e.payload, '$.started_at') AS TIMESTAMP)
    END AS started_at,
    IF(e.event_type = 'chat.session.ended', e.occurred_at, NULL) AS ended_at,
    SAFE_CAST(JSON_VALUE(e.payload, '$.turn_count') AS INT64) AS turn_count,
    SAFE_CAST(JSON_VALUE(e.payload, '$.user_message_count') AS INT64) AS user_message_count,
    SAFE_CAST(JSON_VALUE(e.payload, '$.assistant_message_count') AS INT64)
      AS assistant_message_count,
    SAFE_CAST(JSON_VALUE(e.payload, '$.message_count') AS INT64) AS message_count,
    -- A turn's tokens and costs, by chat_turns' rules: its own usage items and the
    -- usage events correlated to it (chat_turn_costs).
    COALESCE(c.input_tokens, SAFE_CAST(JSON_VALUE(e.payload, '$.input_tokens') AS INT64))
      AS input_tokens,
    COALESCE(c.output_tokens, SAFE_CAST(JSON_VALUE(e.payload, '$.output_tokens') AS INT64))
      AS output_tokens,
    c.api_cost_usd,
    c.resource_cost_usd,
    c.total_cost_usd AS cost_usd
  FROM events_deduped AS e
  LEFT JOIN chat_turn_costs AS c ON c.turn_id = e.event_id
  WHERE e.session_id IS NOT NULL
    AND e.event_type IN (
      'chat.session.started', 'chat.session.ended', 'chat.turn.succeeded', 'chat.turn.failed'
    )
  WINDOW
    earliest AS (
      PARTITION BY e.app, e.session_id ORDER BY e.occurred_at, e.event_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ),
    latest AS (
      PARTITION BY e.app, e.session_id ORDER BY e.occurred_at DESC, e.event_id DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    )
),
sessions AS (
  -- The windowed values (actor, ended_reason...) are the same on every row of a
  -- session: MAX picks that value.
  SELECT
    s.app,
    s.session_id,
    MAX(s.actor_uid) AS actor_uid,
    MAX(s.actor_email) AS actor_email,
    COALESCE(MIN(s.started_at), MIN(s.occurred_at)) AS started_at,
    MAX(s.occurred_at) AS last_activity_at,
    MAX(s.ended_at) AS ended_at,
    GREATEST(
      COUNT(DISTINCT IF(s.is_turn, s.event_id, NULL)), COALESCE(MAX(s.turn_count), 0)
    ) AS turn_count,
    MAX(s.ended_reason) AS ended_reason,
    CAST(SUM(IF(s.is_turn, s.input_tokens, NULL)) AS INT64) AS total_input_tokens,
    CAST(SUM(IF(s.is_turn, s.output_tokens, NULL)) AS INT64) AS total_output_tokens,
    SUM(IF(s.is_turn, s.api_cost_usd, NULL)) AS total_api_cost_usd,
    SUM(IF(s.is_turn, s.resource_cost_usd, NULL)) AS total_resource_cost_usd,
    SUM(IF(s.is_turn, s.cost_usd, NULL)) AS total_cost_usd,
    MAX(s.conversation_id) AS conversation_id,
    MAX(s.visit_session_id) AS visit_session_id,
    MAX(s.environment) AS environment,
    MAX(s.user_message_count) AS user_message_count,
    MAX(s.assistant_message_count) AS assistant_message_count,
    MAX(s.message_count) AS message_count
  FROM session_events AS s
  GROUP BY s.app, s.session_id
)
SELECT
  g.session_id,
  g.app,
  g.actor_uid,
  g.actor_email,
  g.started_at,
  g.last_activity_at,
  g.ended_at,
  IF(
    g.ended_at >= g.started_at,
    TIMESTAMP_DIFF(g.ended_at, g.started_at, MICROSECOND) / 1000000,
    NULL
  ) AS duration_seconds,
  g.turn_count,
  g.ended_reason,
  g.total_input_tokens,
  g.total_output_tokens,
  g.turn_count > 1 AS had_multi_turn,
  CAST(g.total_api_cost_usd AS FLOAT64) AS total_api_cost_usd,
  CAST(g.total_resource_cost_usd AS FLOAT64) AS total_resource_cost_usd,
  CAST(g.total_cost_usd AS FLOAT64) AS total_cost_usd,
  COALESCE(g.conversation_id, g.session_id) AS conversation_id,
  g.visit_session_id,
  g.environment,
  g.user_message_count,
  g.assistant_message_count,
  g.message_count
FROM sessions AS g
