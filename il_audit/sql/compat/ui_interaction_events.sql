-- 0.1.3 table ui_interaction_events, as a view over events: what users looked at
-- and did in the browser: every ui.* event type (0.1.3's eight beacon types,
-- 1.0.35's and host types under ui.), as 1.0.35 routes them. The 0.1.3 columns
-- first (same names, order and types), then 1.0.35's environment and path (the
-- page path the beacon router records, else payload.path). The beacon fields
-- come out of payload, interaction falls back to action (the router sets both).
-- The 0.1.3 envelope columns come from seed_envelope.
SELECT
  e.* EXCEPT (
    payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd,
    environment, correlation_id
  ),
  JSON_VALUE(e.payload, '$.surface') AS surface,
  JSON_VALUE(e.payload, '$.element_id') AS element_id,
  COALESCE(JSON_VALUE(e.payload, '$.interaction'), e.action) AS interaction,
  SAFE_CAST(JSON_VALUE(e.payload, '$.duration_ms') AS INT64) AS duration_ms,
  SAFE_CAST(JSON_VALUE(e.payload, '$.result_count') AS INT64) AS result_count,
  e.environment,
  COALESCE(JSON_VALUE(e.payload, '$.page_path'), JSON_VALUE(e.payload, '$.path')) AS path
FROM seed_envelope AS e
WHERE STARTS_WITH(e.event_type, 'ui.')
