/* 0.1.3 table auth_events, as a view over events: who logged in, failed to log */
/* in or logged out, and who was denied access (auth.access.denied, routed here */
/* as 1.0.35 routes it), and when. The 0.1.3 columns first (same names, order */
/* and types), then 1.0.35's additions in its order: environment, login_provider */
/* and path (the emit() keywords of the same name, read from payload; path falls */
/* back to the page path the beacon router records). */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd, environment, correlation_id),
  e.environment,
  JSON_VALUE(e.payload, '$.login_provider') AS login_provider,
  COALESCE(JSON_VALUE(e.payload, '$.path'), JSON_VALUE(e.payload, '$.page_path')) AS path
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN ('auth.login.succeeded', 'auth.login.failed', 'auth.logout', 'auth.access.denied')
