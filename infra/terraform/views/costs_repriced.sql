/* What would each usage item have cost at the prices now in cost_rates? One row */
/* per usage item, priced at query time with the rate in force on the event's */
/* day (UTC), next to the cost the subscriber stored when it ingested the event. */
/* After a price change (a new or corrected cost_rates row), history reads at */
/* the new prices without rewriting a row. Same formula as the subscriber: */
/* tokens * price per 1M / 1e6, plus quantity * unit_price; an item no rate can */
/* price has repriced_cost_usd NULL. Rates are per pricing tier (a NULL tier is */
/* standard); an item whose tier has no rate in force is priced at the standard */
/* rate, and rate_tier says which one priced it. */
WITH rates AS (
  /* Each rate with the day it stops being in force (the next rate's first day). */
  SELECT
    r.service,
    r.model_id,
    COALESCE(r.pricing_tier, 'standard') AS pricing_tier,
    r.effective_from,
    LEAD(r.effective_from) OVER (
      PARTITION BY r.service, r.model_id, COALESCE(r.pricing_tier, 'standard')
      ORDER BY r.effective_from
    ) AS effective_until,
    r.input_price_per_1m_tokens,
    r.output_price_per_1m_tokens,
    r.unit_price,
    r.rate_version
  FROM `${project}`.`${dataset}`.cost_rates AS r
), items AS (
  SELECT
    e.event_id,
    e.occurred_at,
    e.app,
    e.event_type,
    e.pricing_source AS stored_pricing_source,
    e.rate_version AS stored_rate_version,
    u.service,
    u.model_id,
    COALESCE(u.pricing_tier, 'standard') AS pricing_tier,
    u.category,
    u.input_tokens,
    u.output_tokens,
    u.quantity,
    u.unit,
    u.cost_usd AS stored_cost_usd
  FROM `${project}`.`${dataset}`.events_deduped AS e
  CROSS JOIN UNNEST(e.usage) AS u
), matched AS (
  /* The item's own tier when it has a rate in force, else the standard one. */
  SELECT
    i.event_id,
    i.occurred_at,
    i.app,
    i.event_type,
    i.stored_pricing_source,
    i.stored_rate_version,
    i.service,
    i.model_id,
    i.pricing_tier,
    i.category,
    i.input_tokens,
    i.output_tokens,
    i.quantity,
    i.unit,
    i.stored_cost_usd,
    IF(NOT t.service IS NULL, t.pricing_tier, s.pricing_tier) AS rate_tier,
    IF(NOT t.service IS NULL, t.effective_from, s.effective_from) AS rate_effective_from,
    IF(NOT t.service IS NULL, t.rate_version, s.rate_version) AS rate_version,
    IF(NOT t.service IS NULL, t.input_price_per_1m_tokens, s.input_price_per_1m_tokens) AS input_price_per_1m_tokens,
    IF(NOT t.service IS NULL, t.output_price_per_1m_tokens, s.output_price_per_1m_tokens) AS output_price_per_1m_tokens,
    IF(NOT t.service IS NULL, t.unit_price, s.unit_price) AS unit_price
  FROM items AS i
  LEFT JOIN rates AS t
    ON t.service = i.service
    AND t.model_id = i.model_id
    AND t.pricing_tier = i.pricing_tier
    AND t.effective_from <= DATE(i.occurred_at)
    AND (
      t.effective_until IS NULL OR DATE(i.occurred_at) < t.effective_until
    )
  LEFT JOIN rates AS s
    ON s.service = i.service
    AND s.model_id = i.model_id
    AND s.pricing_tier = 'standard'
    AND s.effective_from <= DATE(i.occurred_at)
    AND (
      s.effective_until IS NULL OR DATE(i.occurred_at) < s.effective_until
    )
), priced AS (
  /* Columns spelled out rather than m.*: the BigQuery stand-in's rewriter loses a */
  /* WHERE on a star-expanded column of this view. */
  SELECT
    m.event_id,
    m.occurred_at,
    m.app,
    m.event_type,
    m.stored_pricing_source,
    m.stored_rate_version,
    m.service,
    m.model_id,
    m.pricing_tier,
    m.category,
    m.input_tokens,
    m.output_tokens,
    m.quantity,
    m.unit,
    m.stored_cost_usd,
    m.rate_tier,
    m.rate_effective_from,
    m.rate_version,
    CASE
      WHEN (
        NOT m.input_tokens IS NULL OR NOT m.output_tokens IS NULL
      )
      AND (
        NOT m.input_price_per_1m_tokens IS NULL
        OR NOT m.output_price_per_1m_tokens IS NULL
      )
      THEN (
        COALESCE(m.input_tokens, 0) * COALESCE(m.input_price_per_1m_tokens, 0) + COALESCE(m.output_tokens, 0) * COALESCE(m.output_price_per_1m_tokens, 0)
      ) * PARSE_NUMERIC('0.000001')
    END AS token_cost,
    CASE
      WHEN NOT m.quantity IS NULL AND NOT m.unit_price IS NULL
      THEN PARSE_NUMERIC(CAST(m.quantity AS STRING)) * m.unit_price
    END AS unit_cost
  FROM matched AS m
)
SELECT
  p.event_id,
  p.occurred_at,
  DATE(p.occurred_at) AS day,
  p.app,
  p.event_type,
  p.service,
  p.model_id,
  p.pricing_tier,
  p.category,
  p.input_tokens,
  p.output_tokens,
  p.quantity,
  p.unit,
  p.stored_cost_usd,
  p.stored_pricing_source,
  p.stored_rate_version,
  p.rate_effective_from,
  p.rate_tier,
  p.rate_version,
  ROUND(
    CASE
      WHEN NOT p.token_cost IS NULL OR NOT p.unit_cost IS NULL
      THEN COALESCE(p.token_cost, 0) + COALESCE(p.unit_cost, 0)
    END,
    9
  ) AS repriced_cost_usd
FROM priced AS p
