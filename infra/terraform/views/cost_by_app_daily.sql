/* What it cost, per app and day, by the catalog that priced it. */
SELECT
  DATE(occurred_at) AS day,
  app,
  pricing_source,
  COUNT(*) AS priced_events,
  SUM(cost_usd) AS cost_usd,
  COUNTIF(pricing_status = 'partially_priced') AS partially_priced_events,
  COUNTIF(pricing_status = 'unpriced') AS unpriced_events
FROM `${project}`.`${dataset}`.events_deduped
WHERE
  NOT pricing_status IS NULL
GROUP BY
  day,
  app,
  pricing_source
