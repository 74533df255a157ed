-- il-audit 1.0.35's helper view v_chat_retrieval_chunks: each retrieved chunk
-- (retrieval_chunks) with its chat turn's question, from chat_turns joined on
-- turn_id. question is null when query text storage is off.
SELECT
  r.chunk_row_id,
  r.logged_at,
  r.app,
  r.environment,
  r.actor_uid,
  r.actor_email,
  r.app_version,
  r.conversation_id,
  r.turn_id,
  r.search_pass,
  r.stage,
  r.rank,
  r.chunk_id,
  r.drive_file_id,
  r.source_file,
  r.passage_scope,
  r.passage_index,
  r.visible_slide_index,
  r.semantic_distance,
  r.semantic_rank,
  r.keyword_score,
  r.keyword_rank,
  r.rrf_score,
  r.rerank_score,
  r.relevance_percentile,
  r.chunk_text_sha256,
  r.trace_id,
  t.question
FROM retrieval_chunks AS r
LEFT JOIN chat_turns AS t ON t.turn_id = r.turn_id
