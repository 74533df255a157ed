-- Who fails to log in, and how often? Per day (UTC), app and actor: failed and
-- successful logins, the failure ratio (failed / all login attempts), and the
-- first and last failure. Only actors with at least one failure that day are
-- listed. A failed login often knows only the email, so an actor is the
-- (actor_uid, actor_email) pair the events carried.
SELECT
  DATE(e.occurred_at) AS day,
  e.app,
  e.actor_uid,
  e.actor_email,
  COUNTIF(e.event_type = 'auth.login.failed') AS failed_logins,
  COUNTIF(e.event_type = 'auth.login.succeeded') AS successful_logins,
  COUNTIF(e.event_type = 'auth.login.failed') / COUNT(*) AS failure_ratio,
  MIN(IF(e.event_type = 'auth.login.failed', e.occurred_at, NULL)) AS first_failure_at,
  MAX(IF(e.event_type = 'auth.login.failed', e.occurred_at, NULL)) AS last_failure_at
FROM events_deduped AS e
WHERE e.event_type IN ('auth.login.failed', 'auth.login.succeeded')
GROUP BY day, e.app, e.actor_uid, e.actor_email
HAVING COUNTIF(e.event_type = 'auth.login.failed') > 0
