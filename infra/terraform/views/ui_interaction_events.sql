/* 0.1.3 table ui_interaction_events, as a view over events: what users looked at */
/* and clicked in the browser (the eight 0.1.3 beacon types). Same columns, names, */
/* order and types as 0.1.3; the beacon fields come out of payload, interaction */
/* falls back to action (the beacon router sets both). */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd),
  JSON_VALUE(e.payload, '$.surface') AS surface,
  JSON_VALUE(e.payload, '$.element_id') AS element_id,
  COALESCE(JSON_VALUE(e.payload, '$.interaction'), e.action) AS interaction,
  SAFE_CAST(JSON_VALUE(e.payload, '$.duration_ms') AS INT64) AS duration_ms,
  SAFE_CAST(JSON_VALUE(e.payload, '$.result_count') AS INT64) AS result_count
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN (
    'ui.tab.viewed',
    'ui.drive.search',
    'ui.consent.modal_opened',
    'ui.consent.submitted',
    'ui.chat.session.started',
    'ui.chat.session.ended',
    'ui.chat.source.attached',
    'ui.chat.new_chat.clicked'
  )
