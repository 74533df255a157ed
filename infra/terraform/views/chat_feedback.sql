/* 1.0.35 table chat_feedback. For migration only: il-audit 1.0.35's end-of-conversation survey. il-audit never writes it; after a migration it shows the 1.0.35 rows. */
/* 1.0.35's columns, names, order and types, and no row of its own. */
SELECT
  CAST(NULL AS TIMESTAMP) AS logged_at,
  CAST(NULL AS STRING) AS environment,
  CAST(NULL AS STRING) AS feedback_id,
  CAST(NULL AS STRING) AS conversation_id,
  CAST(NULL AS STRING) AS conversation_title,
  CAST(NULL AS INT64) AS rating,
  CAST(NULL AS STRING) AS issue,
  CAST(NULL AS STRING) AS time_saved,
  CAST(NULL AS STRING) AS otherwise_asked,
  CAST(NULL AS BOOL) AS dismissed_early,
  CAST(NULL AS BOOL) AS skipped_via_new_chat,
  CAST(NULL AS INT64) AS turn_count,
  CAST(NULL AS STRING) AS employee_full_name,
  CAST(NULL AS STRING) AS employee_email,
  CAST(NULL AS STRING) AS employee_title,
  CAST(NULL AS STRING) AS employee_department,
  CAST(NULL AS STRING) AS employee_company,
  CAST(NULL AS STRING) AS employee_site,
  CAST(NULL AS FLOAT64) AS employee_tenure_years,
  CAST(NULL AS STRING) AS employee_ukg_id
LIMIT 0
