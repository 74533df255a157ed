/* 1.0.35 table notification_sends. For migration only: il-audit 1.0.35's notification e-mails. il-audit never writes it; after a migration it shows the 1.0.35 rows. */
/* 1.0.35's columns, names, order and types, and no row of its own. */
SELECT
  CAST(NULL AS STRING) AS send_id,
  CAST(NULL AS TIMESTAMP) AS sent_at,
  CAST(NULL AS STRING) AS environment,
  CAST(NULL AS STRING) AS notification_type,
  CAST(NULL AS INT64) AS escalation_level,
  CAST(NULL AS STRING) AS recipient_email,
  CAST(NULL AS STRING) AS recipient_title,
  CAST(NULL AS STRING) AS recipient_team,
  CAST(NULL AS ARRAY<STRING>) AS cc_emails,
  CAST(NULL AS STRING) AS email_task_name,
  CAST(NULL AS STRING) AS notification_id,
  CAST(NULL AS STRING) AS related_id,
  CAST(NULL AS STRING) AS drive_file_id,
  CAST(NULL AS STRING) AS file_name,
  CAST(NULL AS INT64) AS rows_shown,
  CAST(NULL AS INT64) AS rows_total,
  CAST(NULL AS STRING) AS subject_summary,
  CAST(NULL AS TIMESTAMP) AS acknowledged_at
LIMIT 0
