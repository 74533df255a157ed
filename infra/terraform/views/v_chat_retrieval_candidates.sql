/* il-audit 1.0.35's helper view v_chat_retrieval_candidates: each retrieval */
/* candidate (retrieval_candidates) with its chat turn's question, retrieval */
/* query and workflow, from chat_turns joined on turn_id. question is null when */
/* query text storage is off. */
SELECT
  r.candidate_id,
  r.logged_at,
  r.app,
  r.environment,
  r.actor_uid,
  r.actor_email,
  r.conversation_id,
  r.turn_id,
  r.search_pass,
  r.stage,
  r.rank,
  r.drive_file_id,
  r.source_file,
  r.rrf_score,
  r.semantic_rank,
  r.keyword_rank,
  r.rerank_score,
  r.rerank_status,
  r.app_version,
  r.relevant_year,
  r.content_department,
  r.content_type,
  r.trace_id,
  t.question,
  t.retrieval_query,
  t.workflow
FROM `${project}`.`${dataset}`.retrieval_candidates AS r
LEFT JOIN `${project}`.`${dataset}`.chat_turns AS t
  ON t.turn_id = r.turn_id
