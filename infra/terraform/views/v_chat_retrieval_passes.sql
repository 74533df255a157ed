/* il-audit 1.0.35's helper view v_chat_retrieval_passes: each search pass */
/* (retrieval_passes) with its chat turn's question, from chat_turns joined on */
/* turn_id. question is null when query text storage is off. */
SELECT
  r.pass_id,
  r.logged_at,
  r.app,
  r.environment,
  r.actor_uid,
  r.actor_email,
  r.app_version,
  r.conversation_id,
  r.turn_id,
  r.search_pass,
  r.settings_json,
  r.trace_id,
  t.question
FROM `${project}`.`${dataset}`.retrieval_passes AS r
LEFT JOIN `${project}`.`${dataset}`.chat_turns AS t
  ON t.turn_id = r.turn_id
