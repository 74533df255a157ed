/* 0.1.3 table user_profile_events, as a view over events: which user changed */
/* which settings, with the before/after state. Same columns, names, order and */
/* types as 0.1.3. */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd)
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type = 'user.settings.updated'
