/* 0.1.3 table config_change_events, as a view over events: who changed a prompt */
/* or a scheduled task, and when scheduled tasks ran. The 0.1.3 columns first */
/* (same names, order and types), then 1.0.35's environment. */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd, environment, correlation_id),
  e.environment
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN (
    'config.prompt.updated',
    'config.scheduled_task.updated',
    'config.scheduled_task.run'
  )
