/**
 * il-audit browser beacons: batched UI interaction events for the host app's
 * beacon endpoint (POST /api/audit/beacon, mounted with create_beacon_router).
 * No dependencies, no build step. The router serves this file itself at
 * GET /api/audit/audit_beacon.js.
 *
 *   <script src="/api/audit/audit_beacon.js"></script>
 *   initAuditBeacon({ autoTrackClick: true });
 *   auditTrack("ui.tab.viewed", auditFieldsFromElement(tabElement));
 *
 * Globals (il-audit 0.1): initAuditBeacon(options), auditTrack(eventType, fields),
 * auditFieldsFromElement(el, extra), auditBeaconFlush() and its alias auditFlush().
 *
 * Options and defaults (0.1's): flushIntervalMs 30000, batchSize 20,
 * autoTrackClick false; also endpoint ("/api/audit/beacon") and
 * useSendBeacon (true). `app` is accepted and never sent: the server names the app.
 *
 * Markup: data-il-audit-event, -id (else data-nav, else the element's id),
 * -surface (read from the element or its nearest ancestor), -interaction,
 * -resource-type. Only elements marked data-il-audit-track="click" are
 * tracked automatically, and only with autoTrackClick; a click is recorded
 * once, for the nearest such element.
 *
 * Delivery:
 * - Events are queued and sent in batches: when batchSize are queued, every
 *   flushIntervalMs, and on auditBeaconFlush(). These sends use fetch with
 *   keepalive (through window.ilAuthFetch when the host defines it, so it can
 *   add its auth headers), because only fetch shows the answer: on 429 the
 *   batch goes back to the queue and nothing is sent before Retry-After; on a
 *   network error or 5xx it goes back and is retried on the next tick; any
 *   other refusal (401, 403, 413, 422) drops the batch, which would never pass.
 * - When the page is hidden (visibilitychange) or left (pagehide) the queue is
 *   sent with navigator.sendBeacon, which outlives the page, falling back to
 *   fetch with keepalive when sendBeacon is missing or refuses.
 * - The tab's session id lives in sessionStorage (il_audit_session_id) and is
 *   sent with every batch; each event carries the page path, never its query.
 */
(function (global) {
  "use strict";

  var MAX_BATCH = 50; // the server's default cap per request
  var MAX_BODY_BYTES = 60000; // keepalive fetch and sendBeacon bodies must stay below 64 KiB
  var MAX_QUEUE = 500; // bounded backlog while the server is unreachable: oldest dropped first
  var SESSION_KEY = "il_audit_session_id";
  var TRACK_CLICK_SELECTOR = '[data-il-audit-track="click"]';

  var config = {
    app: "ingest",
    endpoint: "/api/audit/beacon",
    flushIntervalMs: 30000,
    batchSize: 20,
    autoTrackClick: false,
    useSendBeacon: true,
  };
  var queue = [];
  var timer = null;
  var retryTimer = null;
  var blockedUntil = 0;
  var inFlight = false;
  var flushRequested = false;
  var listening = false;
  var clickBound = false;
  var memorySessionId = null;

  function randomId() {
    if (global.crypto && typeof global.crypto.randomUUID === "function") {
      return global.crypto.randomUUID();
    }
    return "s-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  /** The tab's session id: kept in sessionStorage, or in memory where storage is blocked. */
  function sessionId() {
    try {
      var stored = global.sessionStorage.getItem(SESSION_KEY);
      if (stored) return stored;
      stored = memorySessionId || randomId();
      global.sessionStorage.setItem(SESSION_KEY, stored);
      memorySessionId = stored;
      return stored;
    } catch (e) {
      memorySessionId = memorySessionId || randomId();
      return memorySessionId;
    }
  }

  function currentPath() {
    return global.location && global.location.pathname ? global.location.pathname : null;
  }

  function byteLength(text) {
    return typeof TextEncoder !== "undefined" ? new TextEncoder().encode(text).length : text.length * 3;
  }

  /** Beacon fields from data-il-audit-* attributes on el; extra overrides them. */
  function fieldsFromElement(el, extra) {
    var fields = {};
    if (el && el.getAttribute) {
      var surfaceNode = el.closest ? el.closest("[data-il-audit-surface]") : null;
      var surface = surfaceNode ? surfaceNode.getAttribute("data-il-audit-surface") : null;
      var elementId = el.getAttribute("data-il-audit-id") || el.getAttribute("data-nav") || el.id || null;
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

  /** Queue one ui.* event (the server accepts nothing else); flushes when the batch is full. */
  function track(eventType, fields) {
    if (typeof eventType !== "string" || eventType.indexOf("ui.") !== 0) return false;
    var item = Object.assign({ client_ts: new Date().toISOString() }, fields || {});
    item.event_type = eventType;
    if (!item.path) item.path = currentPath();
    queue.push(item);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    if (queue.length >= Math.min(config.batchSize, MAX_BATCH)) flush();
    return true;
  }

  function serialize(events) {
    return JSON.stringify({ events: events, session_id: sessionId() });
  }

  /** The next batch from the front of the queue: at most MAX_BATCH events and ~60 KB. */
  function takeBatch() {
    var count = Math.min(queue.length, MAX_BATCH);
    var body = serialize(queue.slice(0, count));
    while (count > 1 && byteLength(body) > MAX_BODY_BYTES) {
      count = Math.ceil(count / 2);
      body = serialize(queue.slice(0, count));
    }
    return { events: queue.splice(0, count), body: body };
  }

  function requeue(events) {
    queue = events.concat(queue);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
  }

  function post(body) {
    var headers = { "Content-Type": "application/json" };
    var path = currentPath();
    if (path) headers["X-IL-Audit-Path"] = path;
    var options = {
      method: "POST",
      headers: headers,
      body: body,
      keepalive: true,
      credentials: "same-origin",
    };
    if (typeof global.ilAuthFetch === "function") return global.ilAuthFetch(config.endpoint, options);
    return global.fetch(config.endpoint, options);
  }

  function retryAfterMs(response) {
    var value = response.headers && response.headers.get ? response.headers.get("Retry-After") : null;
    var seconds = Number(value);
    if (value && isFinite(seconds)) return Math.max(seconds, 0) * 1000;
    var date = value ? Date.parse(value) : NaN;
    return isFinite(date) ? Math.max(date - Date.now(), 0) : 1000;
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      flush();
    }, Math.max(blockedUntil - Date.now(), 0) + 50);
  }

  /** What the answer to a batch means for it: delivered, back to the queue, or dropped. */
  function settle(batch, response) {
    var status = response ? response.status : 0;
    if (status === 429) {
      requeue(batch.events);
      blockedUntil = Date.now() + retryAfterMs(response);
      scheduleRetry();
      return 0;
    }
    if (status === 0 || status === 408 || status >= 500) {
      requeue(batch.events);
      return 0;
    }
    return status >= 200 && status < 300 ? batch.events.length : 0;
  }

  /** Send queued events now with fetch (keepalive); resolves to the number delivered. */
  function flush() {
    if (!queue.length) return Promise.resolve(0);
    if (inFlight) {
      flushRequested = true;
      return Promise.resolve(0);
    }
    if (Date.now() < blockedUntil) {
      scheduleRetry();
      return Promise.resolve(0);
    }
    var batch = takeBatch();
    var request;
    inFlight = true;
    flushRequested = false;
    try {
      request = Promise.resolve(post(batch.body));
    } catch (e) {
      request = Promise.reject(e);
    }
    return request.then(
      function (response) {
        inFlight = false;
        var delivered = settle(batch, response);
        var full = queue.length >= Math.min(config.batchSize, MAX_BATCH);
        if (delivered && (flushRequested || full)) flush();
        return delivered;
      },
      function () {
        inFlight = false;
        requeue(batch.events);
        return 0;
      },
    );
  }

  /** The page is going away or out of sight: hand everything to sendBeacon. */
  function flushOnHide() {
    if (Date.now() < blockedUntil) return;
    while (queue.length) {
      var batch = takeBatch();
      var sent = false;
      if (config.useSendBeacon && global.navigator && typeof global.navigator.sendBeacon === "function") {
        try {
          sent = global.navigator.sendBeacon(
            config.endpoint,
            new Blob([batch.body], { type: "application/json" }),
          );
        } catch (e) {
          sent = false;
        }
      }
      if (!sent) {
        try {
          Promise.resolve(post(batch.body)).then(
            function (response) {
              settle(this, response);
            }.bind(batch),
            function () {
              requeue(this.events);
            }.bind(batch),
          );
        } catch (e) {
          requeue(batch.events);
          return;
        }
      }
    }
  }

  function onVisibilityChange() {
    if (global.document.visibilityState === "hidden") flushOnHide();
  }

  function onClick(event) {
    var target = event.target;
    var el = target && target.closest ? target.closest(TRACK_CLICK_SELECTOR) : null;
    if (!el) return;
    var fields = fieldsFromElement(el);
    var eventType = fields.event_type;
    if (!eventType || !fields.element_id) return;
    delete fields.event_type;
    if (!fields.interaction) fields.interaction = "click";
    track(eventType, fields);
  }

  /** Configure and start: periodic flush, flush when hidden, optional click tracking. */
  function init(options) {
    Object.assign(config, options || {});
    if (timer) clearInterval(timer);
    timer = setInterval(flush, config.flushIntervalMs);
    var doc = global.document;
    if (doc && doc.addEventListener) {
      if (!listening) {
        doc.addEventListener("visibilitychange", onVisibilityChange);
        global.addEventListener("pagehide", flushOnHide);
        listening = true;
      }
      if (config.autoTrackClick && !clickBound) {
        doc.addEventListener("click", onClick, true);
        clickBound = true;
      } else if (!config.autoTrackClick && clickBound) {
        doc.removeEventListener("click", onClick, true);
        clickBound = false;
      }
    }
    sessionId();
    return config;
  }

  global.initAuditBeacon = init;
  global.auditTrack = track;
  global.auditFieldsFromElement = fieldsFromElement;
  global.auditBeaconFlush = flush;
  global.auditFlush = flush;
})(typeof window !== "undefined" ? window : globalThis);
