/**
 * il-audit browser beacons: batched UI interaction events for the host app's
 * authenticated beacon endpoint (POST /api/audit/beacon by default).
 *
 * Only ui.* event types are accepted by the server. Mark elements with
 * data-il-audit-* attributes and call auditTrack() / auditFieldsFromElement().
 *
 *   initAuditBeacon({ app: "ingest" });
 *   auditTrack("ui.tab.viewed", auditFieldsFromElement(tabElement));
 *
 * Options: endpoint, flushIntervalMs (default 10000), batchSize (20, the
 * server caps a request at 50), autoTrackClick (false), getHeaders (a function
 * returning extra headers, e.g. a CSRF or bearer token), fetch (override).
 */
(function (global) {
  "use strict";

  var MAX_BATCH = 50;
  var config = {
    app: null,
    endpoint: "/api/audit/beacon",
    flushIntervalMs: 10000,
    batchSize: 20,
    autoTrackClick: false,
    getHeaders: null,
    fetch: null,
  };
  var queue = [];
  var timer = null;
  var clickBound = false;

  function closestAttribute(el, name) {
    if (!el) return null;
    if (el.getAttribute && el.getAttribute(name)) return el.getAttribute(name);
    var node = el.closest ? el.closest("[" + name + "]") : null;
    return node ? node.getAttribute(name) : null;
  }

  /** Beacon fields from data-il-audit-* attributes on el (extra overrides them). */
  function fieldsFromElement(el, extra) {
    var fields = {};
    if (el) {
      var surface = closestAttribute(el, "data-il-audit-surface");
      var elementId =
        el.getAttribute("data-il-audit-id") || el.getAttribute("data-nav") || el.id || null;
      var eventType = el.getAttribute("data-il-audit-event");
      var interaction = el.getAttribute("data-il-audit-interaction");
      var resourceType = el.getAttribute("data-il-audit-resource-type");
      if (surface) fields.surface = surface;
      if (elementId) {
        fields.element_id = elementId;
        fields.resource_id = elementId;
      }
      if (eventType) fields.event_type = eventType;
      if (interaction) fields.interaction = interaction;
      if (resourceType) fields.resource_type = resourceType;
    }
    return Object.assign(fields, extra || {});
  }

  /** Queue one ui.* event; flushes when the batch is full. */
  function track(eventType, fields) {
    if (typeof eventType !== "string" || eventType.indexOf("ui.") !== 0) {
      return false;
    }
    var item = Object.assign({}, fields || {}, {
      event_type: eventType,
      client_ts: new Date().toISOString(),
    });
    queue.push(item);
    if (queue.length >= Math.min(config.batchSize, MAX_BATCH)) flush();
    return true;
  }

  function headers() {
    var base = { "Content-Type": "application/json" };
    if (typeof config.getHeaders === "function") {
      Object.assign(base, config.getHeaders() || {});
    }
    return base;
  }

  /** Send queued events now; keepalive lets the request outlive the page. */
  function flush() {
    if (!queue.length) return Promise.resolve(0);
    var batch = queue.splice(0, MAX_BATCH);
    var send = config.fetch || global.ilAuthFetch || global.fetch;
    return Promise.resolve(
      send(config.endpoint, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: headers(),
        body: JSON.stringify({ events: batch }),
      }),
    )
      .then(function (response) {
        if (response && response.status === 429) {
          queue = batch.concat(queue).slice(0, MAX_BATCH * 4);
        }
        if (queue.length) schedule();
        return batch.length;
      })
      .catch(function () {
        // Network errors: keep a bounded backlog and try again on the next tick.
        queue = batch.concat(queue).slice(0, MAX_BATCH * 4);
        schedule();
        return 0;
      });
  }

  function schedule() {
    if (timer) return;
    timer = setTimeout(function () {
      timer = null;
      flush();
    }, config.flushIntervalMs);
  }

  function onClick(event) {
    var el = event.target && event.target.closest ? event.target.closest("[data-il-audit-event]") : null;
    if (el) track(el.getAttribute("data-il-audit-event"), fieldsFromElement(el));
  }

  /** Configure and start: periodic flush, flush on page hide, optional click tracking. */
  function init(options) {
    Object.assign(config, options || {});
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    setInterval(function () {
      flush();
    }, config.flushIntervalMs);
    if (global.document && global.document.addEventListener) {
      global.document.addEventListener("visibilitychange", function () {
        if (global.document.visibilityState === "hidden") flush();
      });
      if (config.autoTrackClick && !clickBound) {
        global.document.addEventListener("click", onClick, true);
        clickBound = true;
      }
    }
    return config;
  }

  global.initAuditBeacon = init;
  global.auditTrack = track;
  global.auditFlush = flush;
  global.auditFieldsFromElement = fieldsFromElement;
})(typeof window !== "undefined" ? window : globalThis);
