/* il-audit 1.0.35's helper view v_chat_model_calls: each model call */
/* (model_call_text) with its chat turn's question, retrieval query, status, */
/* tokens and API cost, from chat_turns joined on the turn id (the call's */
/* correlation_id when its correlation_type is 'chat_turn'). The turn_* values */
/* repeat the whole turn on each row: do not sum them. Calls correlated to a */
/* conversation (title rows) have no turn. question is null when query text */
/* storage is off. */
SELECT
  m.call_id,
  m.logged_at,
  m.app,
  m.environment,
  m.actor_uid,
  m.actor_email,
  m.conversation_id,
  m.correlation_id,
  m.correlation_type,
  m.sequence,
  m.category,
  m.operation,
  m.model_id,
  m.attempt,
  m.succeeded,
  m.error_type,
  m.prompt_source,
  m.temperature,
  m.thinking_level,
  m.thought_tokens,
  m.cached_tokens,
  m.finish_reason,
  m.app_version,
  m.prompt,
  m.completion,
  m.prompt_truncated,
  m.completion_truncated,
  m.trace_id,
  t.question,
  t.retrieval_query,
  t.status AS turn_status,
  t.input_tokens AS turn_input_tokens,
  t.output_tokens AS turn_output_tokens,
  t.api_cost_usd AS turn_api_cost_usd
FROM `${project}`.`${dataset}`.model_call_text AS m
LEFT JOIN `${project}`.`${dataset}`.chat_turns AS t
  ON m.correlation_type = 'chat_turn' AND t.turn_id = m.correlation_id
