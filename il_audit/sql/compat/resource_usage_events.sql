-- 0.1.3 table resource_usage_events, as a view over events: infrastructure usage
-- recorded with emit_resource_usage (cost.resource.usage): CPU seconds, stored
-- bytes..., its quantity and cost. The 0.1.3 columns first (same names, order
-- and types), then 1.0.35's environment.
-- resource_id is the event_id (0.1.3's row id); logged_at is occurred_at;
-- quantity and unit come from the event's (single) usage item. pricing_version
-- is the subscriber's rate_version and estimated_cost_usd its priced cost_usd
-- (FLOAT64); an item no rate could price shows 0.0, as 0.1.3 wrote it, with
-- pricing_version NULL. The seed catalog used as a fallback reads as
-- 'seed_catalog', the name 0.1.3 gave it. metadata_json is NULL when empty.
SELECT
  e.event_id AS resource_id,
  e.occurred_at AS logged_at,
  e.app,
  e.actor_uid,
  e.actor_email,
  e.correlation_id,
  e.correlation_type,
  COALESCE(e.resource_type, e.usage[SAFE_OFFSET(0)].category) AS resource_type,
  e.usage[SAFE_OFFSET(0)].quantity AS quantity,
  e.usage[SAFE_OFFSET(0)].unit AS unit,
  COALESCE(CAST(e.cost_usd AS FLOAT64), 0.0) AS estimated_cost_usd,
  e.rate_version AS pricing_version,
  IF(e.pricing_source = 'seed_catalog_fallback', 'seed_catalog', e.pricing_source)
    AS pricing_source,
  NULLIF(TO_JSON_STRING(e.metadata), '{}') AS metadata_json,
  e.environment
FROM events_deduped AS e
WHERE e.event_type = 'cost.resource.usage'
