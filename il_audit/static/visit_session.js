/**
 * il-audit visit sessions: one id per page visit, with its start time and counters,
 * for the host to send as ui.visit.started / ui.visit.ended beacons. This file
 * sends nothing itself; the router serves it at GET /api/audit/visit_session.js.
 *
 *   <script src="/api/audit/audit_beacon.js"></script>
 *   <script src="/api/audit/visit_session.js"></script>
 *   initIlVisitSession();
 *   auditTrack("ui.visit.started", { metadata: buildIlVisitSessionMetadata() });
 *   // ... noteIlVisitAction() per turn, noteIlVisitResource(conversationId) per conversation
 *   auditTrack("ui.visit.ended", {
 *     interaction: "page_unload",
 *     metadata: buildIlVisitSessionMetadata({ ended_reason: "page_unload" }),
 *   });
 *
 * The server turns these into chat_visit_sessions rows (ended_reason is
 * page_unload, logout or unknown). Globals (il-audit 1.0's), on window, or on
 * globalThis where there is no window: initIlVisitSession(),
 * noteIlVisitResource(resourceId), noteIlVisitAction(),
 * buildIlVisitSessionMetadata(extra), getIlVisitSessionId(). Nothing is stored:
 * a new page load is a new visit.
 */
(function (global) {
  "use strict";

  var visitId = null;
  var startedAt = null;
  var actions = 0;
  var resources = {};
  var resourceCount = 0;

  function hex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 256).toString(16).slice(1);
    return out;
  }

  /** crypto.randomUUID(), else "visit-<ms>-<hex>". */
  function newVisitId() {
    var cryptoApi = global.crypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
      try {
        return cryptoApi.randomUUID();
      } catch (e) {
        // not a secure context: fall through
      }
    }
    var random;
    if (cryptoApi && typeof cryptoApi.getRandomValues === "function") {
      random = hex(cryptoApi.getRandomValues(new Uint8Array(8)));
    } else {
      random = Math.floor(Math.random() * 0x100000000).toString(16) + Math.floor(Math.random() * 0x100000000).toString(16);
    }
    return "visit-" + Date.now() + "-" + random;
  }

  /** Start the visit (once: later calls return the same id); resets the counters. */
  function initIlVisitSession() {
    if (visitId) return visitId;
    visitId = newVisitId();
    startedAt = Date.now();
    actions = 0;
    resources = {};
    resourceCount = 0;
    return visitId;
  }

  /** Count a distinct resource (a conversation) seen during the visit. */
  function noteIlVisitResource(resourceId) {
    if (resourceId === null || resourceId === undefined || resourceId === "") return;
    var key = "r:" + String(resourceId);
    if (!Object.prototype.hasOwnProperty.call(resources, key)) {
      resources[key] = true;
      resourceCount += 1;
    }
  }

  /** Count one action (a chat turn) of the visit. */
  function noteIlVisitAction() {
    actions += 1;
  }

  /** {visit_session_id, duration_seconds, turn_count, conversation_count}, with extra's keys over it. */
  function buildIlVisitSessionMetadata(extra) {
    var metadata = {
      visit_session_id: visitId,
      duration_seconds: startedAt === null ? null : (Date.now() - startedAt) / 1000,
      turn_count: actions,
      conversation_count: resourceCount,
    };
    if (extra && typeof extra === "object") {
      for (var key in extra) {
        if (Object.prototype.hasOwnProperty.call(extra, key)) metadata[key] = extra[key];
      }
    }
    return metadata;
  }

  /** The visit's id, or null before initIlVisitSession(). */
  function getIlVisitSessionId() {
    return visitId;
  }

  global.initIlVisitSession = initIlVisitSession;
  global.noteIlVisitResource = noteIlVisitResource;
  global.noteIlVisitAction = noteIlVisitAction;
  global.buildIlVisitSessionMetadata = buildIlVisitSessionMetadata;
  global.getIlVisitSessionId = getIlVisitSessionId;
})(typeof window !== "undefined" ? window : globalThis);
