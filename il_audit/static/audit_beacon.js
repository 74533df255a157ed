/**
 * il-audit browser beacons: batched UI interaction events for the host app's
 * beacon endpoint (POST /api/audit/beacon, mounted with create_beacon_router).
 * No dependencies, no build step. The router serves this file itself at
 * GET /api/audit/audit_beacon.js (and visit_session.js, login_audit.js beside it).
 *
 *   <script src="/api/audit/audit_beacon.js"></script>
 *   initAuditBeacon({ autoTrackClick: true });
 *   auditTrack("ui.tab.viewed", auditFieldsFromElement(tabElement));
 *
 * Globals. il-audit 0.1's: initAuditBeacon(options), auditTrack(eventType, fields),
 * auditFieldsFromElement(el, extra), auditBeaconFlush() and its alias auditFlush().
 * il-audit 1.0's: auditBeaconFlush(forceImmediate), auditBeaconFlushAsync(forceImmediate)
 * (a promise of true when everything queued was delivered), auditSuppressUnloadBeacons(),
 * auditBeaconClearQueue() and auditCurrentPagePath().
 *
 * Options and defaults (the seed's): flushIntervalMs 30000, batchSize 20,
 * minFlushGapMs 500, autoTrackClick false, autoTrackChange false; also
 * endpoint ("/api/audit/beacon") and useSendBeacon (true). `app` is accepted
 * and never sent: the server names the app.
 *
 * Markup: data-il-audit-event, -id (else data-sort, else data-nav, else the
 * element's id), -surface (read from the element or its nearest ancestor),
 * -interaction, -resource-type. Elements marked data-il-audit-track="click"
 * are tracked on click with autoTrackClick, those marked
 * data-il-audit-track="change" on change with autoTrackChange; an event is
 * recorded once, for the nearest marked element. Form controls add metadata:
 * selected_value (a select), checked (a checkbox or radio), value_length (a
 * text, search or number input) and field_name (the name attribute). What a
 * user typed is never read into an event: only its length.
 *
 * Delivery:
 * - Events are queued and sent in batches: when batchSize are queued, every
 *   flushIntervalMs (not while the host says the page is idle: window.isPageIdle()
 *   and window.onPageIdleChange(callback); going idle flushes at once), and on
 *   auditBeaconFlush(). Two sends are at least minFlushGapMs apart unless a
 *   flush is forced: an earlier one is deferred, not dropped. These sends use
 *   fetch with keepalive and same-origin credentials (through window.ilAuthFetch
 *   when the host defines it, so it can add its auth headers), because only
 *   fetch shows the answer: on 429 the batch goes back to the front of the
 *   queue and nothing is sent before Retry-After (and at least minFlushGapMs);
 *   on a network error or 5xx it goes back and is retried on the next tick;
 *   any other refusal (401, 403, 413, 422) drops the batch, which would never pass.
 * - When the page is hidden (visibilitychange) or left (pagehide) the queue is
 *   sent with navigator.sendBeacon, which outlives the page, falling back to
 *   fetch with keepalive when sendBeacon is missing or refuses. After
 *   auditSuppressUnloadBeacons() (a logout: the session is gone) these sends,
 *   and the idle flush, do nothing.
 * - Every fetch carries X-IL-Audit-Path (the page's path; sendBeacon cannot set
 *   headers, and the server reads the Referer instead). Each event carries the
 *   page path too, never its query string.
 * - The tab's session id lives in sessionStorage (il_audit_session_id) and is
 *   sent with every batch.
 */
(function (global) {
  "use strict";

  var MAX_BATCH = 50; // the server's default cap per request
  var MAX_BODY_BYTES = 60000; // keepalive fetch and sendBeacon bodies must stay below 64 KiB
  var MAX_QUEUE = 500; // bounded backlog while the server is unreachable: oldest dropped first
  var MAX_FORM_TEXT = 256; // a selected value or field name, cut to stay far below 8 KiB of metadata
  var SESSION_KEY = "il_audit_session_id";
  var SUPPRESS_FLAG = "__ilAuditSuppressUnloadBeacons"; // the seed's name, on window
  var TRACK_CLICK_SELECTOR = '[data-il-audit-track="click"]';
  var TRACK_CHANGE_SELECTOR = '[data-il-audit-track="change"]';
  var LENGTH_ONLY_INPUTS = { text: true, search: true, number: true };

  var config = {
    app: "ingest",
    endpoint: "/api/audit/beacon",
    flushIntervalMs: 30000,
    batchSize: 20,
    minFlushGapMs: 500,
    autoTrackClick: false,
    autoTrackChange: false,
    useSendBeacon: true,
  };
  var queue = [];
  var generation = 0; // auditBeaconClearQueue() moves it on: batches taken before are not put back
  var timer = null;
  var retryTimer = null;
  var deferred = null; // {promise}: the one send waiting for minFlushGapMs to pass
  var blockedUntil = 0;
  var lastSendAt = -Infinity;
  var sending = null; // a promise settled once no request is in flight
  var inFlight = 0;
  var flushRequested = false;
  var idle = false;
  var idleHooked = false;
  var listening = false;
  var clickBound = false;
  var changeBound = false;
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

  /** The path sent with events: never the query string (the server drops it anyway). */
  function currentPath() {
    return global.location && global.location.pathname ? global.location.pathname : null;
  }

  /** auditCurrentPagePath(): the page's path and query, as the seed's 1.0 returned it, or null. */
  function currentPagePath() {
    var location = global.location;
    if (!location || typeof location.pathname !== "string") return null;
    return location.pathname + (location.search || "");
  }

  function byteLength(text) {
    return typeof TextEncoder !== "undefined" ? new TextEncoder().encode(text).length : text.length * 3;
  }

  function gapMs() {
    var gap = Number(config.minFlushGapMs);
    return isFinite(gap) && gap > 0 ? gap : 0;
  }

  /** Metadata a form control gives: its choice, its state, or the length of its text; never a value typed. */
  function formMetadata(el) {
    if (!el || typeof el.getAttribute !== "function") return null;
    var metadata = {};
    var found = false;
    var tag = String(el.tagName || "").toUpperCase();
    var type = tag === "INPUT" ? String(el.type || "text").toLowerCase() : "";
    if (tag === "SELECT") {
      metadata.selected_value = String(el.value == null ? "" : el.value).slice(0, MAX_FORM_TEXT);
      found = true;
    } else if (type === "checkbox" || type === "radio") {
      metadata.checked = el.checked === true;
      found = true;
    } else if (LENGTH_ONLY_INPUTS[type] && el.value) {
      metadata.value_length = String(el.value).length;
      found = true;
    }
    var name = el.getAttribute("name");
    if (name) {
      metadata.field_name = name.slice(0, MAX_FORM_TEXT);
      found = true;
    }
    return found ? metadata : null;
  }

  /** Beacon fields from data-il-audit-* attributes on el; extra overrides them. */
  function fieldsFromElement(el, extra) {
    var fields = {};
    if (el && el.getAttribute) {
      var surfaceNode = el.closest ? el.closest("[data-il-audit-surface]") : null;
      var surface = surfaceNode ? surfaceNode.getAttribute("data-il-audit-surface") : null;
      var elementId =
        el.getAttribute("data-il-audit-id") ||
        el.getAttribute("data-sort") ||
        el.getAttribute("data-nav") ||
        el.id ||
        null;
      var eventType = el.getAttribute("data-il-audit-event");
      var interaction = el.getAttribute("data-il-audit-interaction");
      var resourceType = el.getAttribute("data-il-audit-resource-type");
      var metadata = formMetadata(el);
      if (surface) fields.surface = surface;
      if (elementId) {
        fields.element_id = elementId;
        fields.resource_id = elementId;
      }
      if (eventType) fields.event_type = eventType;
      if (interaction) fields.interaction = interaction;
      if (resourceType) fields.resource_type = resourceType;
      if (metadata) fields.metadata = metadata;
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
    if (queue.length >= Math.min(config.batchSize, MAX_BATCH)) flush(false);
    return true;
  }

  function serialize(events) {
    return JSON.stringify({ events: events, session_id: sessionId() });
  }

  /** The next batch from the front of the queue: at most MAX_BATCH events and ~60 KB. */
  function takeBatch() {
    var count = Math.min(queue.length, MAX_BATCH);
    var path = currentPath();
    for (var i = 0; i < count; i++) {
      if (!queue[i].path && path) queue[i].path = path;
    }
    var body = serialize(queue.slice(0, count));
    while (count > 1 && byteLength(body) > MAX_BODY_BYTES) {
      count = Math.ceil(count / 2);
      body = serialize(queue.slice(0, count));
    }
    return { events: queue.splice(0, count), body: body, generation: generation };
  }

  /** A batch that may pass later goes back to the front, unless the queue was cleared since. */
  function requeue(batch) {
    if (batch.generation !== generation) return;
    queue = batch.events.concat(queue);
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
      flush(false);
    }, Math.max(blockedUntil - Date.now(), 0) + 50);
  }

  /** What the answer to a batch means for it: delivered, back to the queue, or dropped. */
  function settle(batch, response) {
    var status = response ? response.status : 0;
    if (status === 429) {
      requeue(batch);
      blockedUntil = Date.now() + Math.max(retryAfterMs(response), gapMs());
      scheduleRetry();
      return 0;
    }
    if (status === 0 || status === 408 || status >= 500) {
      requeue(batch);
      return 0;
    }
    return status >= 200 && status < 300 ? batch.events.length : 0;
  }

  /** Send one batch with fetch; resolves to the number delivered (0 when it was not). */
  function sendOne() {
    var batch = takeBatch();
    var request;
    lastSendAt = Date.now();
    try {
      request = Promise.resolve(post(batch.body));
    } catch (e) {
      request = Promise.reject(e);
    }
    inFlight += 1;
    var done = request
      .then(
        function (response) {
          return settle(batch, response);
        },
        function () {
          requeue(batch);
          return 0;
        },
      )
      .then(function (delivered) {
        inFlight -= 1;
        if (!inFlight) sending = null;
        return delivered;
      });
    sending = sending ? Promise.all([sending, done]) : done;
    return done;
  }

  /**
   * One send now; resolves to the number delivered. While a request is in flight an
   * unforced send waits for it (one follows when it is delivered); a forced one goes
   * alongside it: the page may be about to leave (a sign-in click).
   */
  function sendNow(forceImmediate) {
    if (!queue.length) return Promise.resolve(0);
    if (sending && !forceImmediate) {
      flushRequested = true;
      return Promise.resolve(0);
    }
    if (Date.now() < blockedUntil) {
      scheduleRetry();
      return Promise.resolve(0);
    }
    flushRequested = false;
    return sendOne().then(function (delivered) {
      var full = queue.length >= Math.min(config.batchSize, MAX_BATCH);
      if (delivered && (flushRequested || full)) flush(false);
      return delivered;
    });
  }

  /** A promise of the send made once minFlushGapMs has passed since the last one. */
  function deferSend(waitMs) {
    if (!deferred) {
      var entry = {};
      entry.promise = new Promise(function (resolve) {
        setTimeout(function () {
          deferred = null;
          sendNow(false).then(resolve, function () {
            resolve(0);
          });
        }, waitMs);
      });
      deferred = entry;
    }
    return deferred.promise;
  }

  /**
   * auditBeaconFlush(forceImmediate): send queued events with fetch (keepalive).
   * Within minFlushGapMs of the last send, an unforced call is deferred until the
   * gap has passed. Resolves to the number of events its request delivered.
   */
  function flush(forceImmediate) {
    if (!queue.length) return Promise.resolve(0);
    if (!forceImmediate) {
      var waitMs = lastSendAt + gapMs() - Date.now();
      if (waitMs > 0) return deferSend(waitMs);
    }
    return sendNow(!!forceImmediate);
  }

  /** Batches until the queue is empty; false as soon as one is not delivered. */
  function drain(rounds) {
    if (sending) {
      return sending.then(function () {
        return drain(rounds);
      });
    }
    if (!queue.length) return Promise.resolve(true);
    if (rounds <= 0) return Promise.resolve(false);
    if (Date.now() < blockedUntil) {
      scheduleRetry();
      return Promise.resolve(false);
    }
    return sendOne().then(function (delivered) {
      return delivered ? drain(rounds - 1) : false;
    });
  }

  /**
   * auditBeaconFlushAsync(forceImmediate): send everything queued with fetch
   * (credentials same-origin, keepalive). Resolves to true when the queue was
   * empty or every batch was delivered, false otherwise; never rejects.
   */
  function flushAsync(forceImmediate) {
    var waitMs = forceImmediate || !queue.length ? 0 : lastSendAt + gapMs() - Date.now();
    var start =
      waitMs > 0
        ? new Promise(function (resolve) {
            setTimeout(resolve, waitMs);
          })
        : Promise.resolve();
    return start
      .then(function () {
        return drain(MAX_QUEUE);
      })
      .then(null, function () {
        return false;
      });
  }

  function suppressed() {
    return global[SUPPRESS_FLAG] === true;
  }

  /** auditSuppressUnloadBeacons(): no flush on leaving, hiding or idling from now on (a logout). */
  function suppressUnloadBeacons() {
    global[SUPPRESS_FLAG] = true;
  }

  /** auditBeaconClearQueue(): forget every queued event, and any batch in flight that fails. */
  function clearQueue() {
    queue = [];
    generation += 1;
  }

  /** The page is going away or out of sight: hand everything to sendBeacon. */
  function flushOnHide() {
    if (suppressed() || Date.now() < blockedUntil) return;
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
              requeue(this);
            }.bind(batch),
          );
        } catch (e) {
          requeue(batch);
          return;
        }
      }
    }
  }

  // The seed's 1.0 dropped this listener and kept pagehide alone. It stays here:
  // 0.1 pages rely on it, and a mobile browser may discard a hidden tab without
  // ever firing pagehide, so hiding is the last moment the queue is sure to go.
  // A 1.0 page loses nothing by it: the events go out earlier, still only once,
  // and auditSuppressUnloadBeacons() silences it as it silences pagehide.
  function onVisibilityChange() {
    if (global.document.visibilityState === "hidden") flushOnHide();
  }

  function readIdle() {
    try {
      return typeof global.isPageIdle === "function" && global.isPageIdle() === true;
    } catch (e) {
      return false;
    }
  }

  function startTimer() {
    if (timer) clearInterval(timer);
    timer = null;
    if (!idle) {
      timer = setInterval(function () {
        flush(false);
      }, config.flushIntervalMs);
    }
  }

  /** The host's onPageIdleChange callback: idle flushes now and stops the timer; active restarts it. */
  function onIdleChange(nowIdle) {
    idle = typeof nowIdle === "boolean" ? nowIdle : readIdle();
    if (idle) {
      if (timer) clearInterval(timer);
      timer = null;
      if (!suppressed()) flush(true);
    } else if (!timer) {
      startTimer();
    }
  }

  function hookIdle() {
    if (idleHooked || typeof global.onPageIdleChange !== "function") return;
    try {
      global.onPageIdleChange(onIdleChange);
      idleHooked = true;
    } catch (e) {
      idleHooked = false;
    }
  }

  /** An auto-tracked event for the nearest element marked for it; needs a type and an id. */
  function trackMarked(el, defaultInteraction, control) {
    var fields = fieldsFromElement(el);
    var eventType = fields.event_type;
    if (!eventType || !fields.element_id) return;
    delete fields.event_type;
    if (!fields.metadata && control && control !== el) {
      var metadata = formMetadata(control);
      if (metadata) fields.metadata = metadata;
    }
    if (!fields.interaction) fields.interaction = defaultInteraction;
    track(eventType, fields);
  }

  function onClick(event) {
    var target = event.target;
    var el = target && target.closest ? target.closest(TRACK_CLICK_SELECTOR) : null;
    if (el) trackMarked(el, "click", null);
  }

  function onChange(event) {
    var target = event.target;
    var el = target && target.closest ? target.closest(TRACK_CHANGE_SELECTOR) : null;
    if (el) trackMarked(el, "change", target);
  }

  function bind(doc, type, handler, wanted, bound) {
    if (wanted && !bound) doc.addEventListener(type, handler, true);
    else if (!wanted && bound) doc.removeEventListener(type, handler, true);
    return wanted;
  }

  /** Configure and start: periodic flush, flush when hidden or left, optional auto-tracking. */
  function init(options) {
    Object.assign(config, options || {});
    if (typeof global.isPageIdle === "function") idle = readIdle();
    hookIdle();
    startTimer();
    var doc = global.document;
    if (doc && doc.addEventListener) {
      if (!listening) {
        doc.addEventListener("visibilitychange", onVisibilityChange);
        global.addEventListener("pagehide", flushOnHide);
        listening = true;
      }
      clickBound = bind(doc, "click", onClick, !!config.autoTrackClick, clickBound);
      changeBound = bind(doc, "change", onChange, !!config.autoTrackChange, changeBound);
    }
    sessionId();
    return config;
  }

  global.initAuditBeacon = init;
  global.auditTrack = track;
  global.auditFieldsFromElement = fieldsFromElement;
  global.auditBeaconFlush = flush;
  global.auditFlush = flush;
  global.auditBeaconFlushAsync = flushAsync;
  global.auditSuppressUnloadBeacons = suppressUnloadBeacons;
  global.auditBeaconClearQueue = clearQueue;
  global.auditCurrentPagePath = currentPagePath;
})(typeof window !== "undefined" ? window : globalThis);
