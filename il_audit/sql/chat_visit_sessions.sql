-- One row per visit to the chat (app and payload.visit_session_id), from its
-- chat.visit.started and chat.visit.ended events (emit_chat_visit_session, or
-- the page's ui.visit.* beacons through the beacon router), with il-audit
-- 1.0.35's chat_visit_sessions columns, names, order and types. started_at is
-- the earliest start (payload.started_at, else the event's time); ended_at the
-- latest end (payload.ended_at, else its time), with that end's ended_reason
-- ('unknown' when it gave none); duration_seconds is what the latest end
-- reported, else ended_at minus started_at (NULL when not ended, or negative);
-- turn_count and conversation_count are the largest reported; the actor and
-- environment are the earliest event's that has them.
WITH visit_events AS (
  SELECT
    e.app,
    JSON_VALUE(e.payload, '$.visit_session_id') AS visit_session_id,
    FIRST_VALUE(e.actor_uid IGNORE NULLS) OVER earliest AS actor_uid,
    FIRST_VALUE(e.actor_email IGNORE NULLS) OVER earliest AS actor_email,
    FIRST_VALUE(e.environment IGNORE NULLS) OVER earliest AS environment,
    IF(
      e.event_type = 'chat.visit.started',
      COALESCE(SAFE_CAST(JSON_VALUE(e.payload, '$.started_at') AS TIMESTAMP), e.occurred_at),
      NULL
    ) AS started_at,
    IF(
      e.event_type = 'chat.visit.ended',
      COALESCE(SAFE_CAST(JSON_VALUE(e.payload, '$.ended_at') AS TIMESTAMP), e.occurred_at),
      NULL
    ) AS ended_at,
    FIRST_VALUE(
      IF(
        e.event_type = 'chat.visit.ended',
        COALESCE(JSON_VALUE(e.payload, '$.ended_reason'), 'unknown'),
        NULL
      ) IGNORE NULLS
    ) OVER latest AS ended_reason,
    FIRST_VALUE(
      IF(
        e.event_type = 'chat.visit.ended',
        SAFE_CAST(JSON_VALUE(e.payload, '$.duration_seconds') AS FLOAT64),
        NULL
      ) IGNORE NULLS
    ) OVER latest AS reported_duration_seconds,
    SAFE_CAST(JSON_VALUE(e.payload, '$.turn_count') AS INT64) AS turn_count,
    SAFE_CAST(JSON_VALUE(e.payload, '$.conversation_count') AS INT64) AS conversation_count
  FROM events_deduped AS e
  WHERE e.event_type IN ('chat.visit.started', 'chat.visit.ended')
    AND JSON_VALUE(e.payload, '$.visit_session_id') IS NOT NULL
  WINDOW
    earliest AS (
      PARTITION BY e.app, JSON_VALUE(e.payload, '$.visit_session_id')
      ORDER BY e.occurred_at, e.event_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ),
    latest AS (
      PARTITION BY e.app, JSON_VALUE(e.payload, '$.visit_session_id')
      ORDER BY e.occurred_at DESC, e.event_id DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    )
),
visits AS (
  -- The windowed values (actor, ended_reason...) are the same on every row of a
  -- visit: MAX picks that value.
  SELECT
    v.app,
    v.visit_session_id,
    MAX(v.environment) AS environment,
    MAX(v.actor_uid) AS actor_uid,
    MAX(v.actor_email) AS actor_email,
    MIN(v.started_at) AS started_at,
    MAX(v.ended_at) AS ended_at,
    MAX(v.reported_duration_seconds) AS reported_duration_seconds,
    MAX(v.turn_count) AS turn_count,
    MAX(v.conversation_count) AS conversation_count,
    MAX(v.ended_reason) AS ended_reason
  FROM visit_events AS v
  GROUP BY v.app, v.visit_session_id
)
SELECT
  g.visit_session_id,
  g.app,
  g.environment,
  g.actor_uid,
  g.actor_email,
  g.started_at,
  g.ended_at,
  CAST(
    COALESCE(
      IF(g.ended_at IS NOT NULL, g.reported_duration_seconds, NULL),
      IF(
        g.ended_at >= g.started_at,
        TIMESTAMP_DIFF(g.ended_at, g.started_at, MICROSECOND) / 1000000,
        NULL
      )
    ) AS FLOAT64
  ) AS duration_seconds,
  g.turn_count,
  g.conversation_count,
  g.ended_reason
FROM visits AS g
