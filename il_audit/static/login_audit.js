/**
 * il-audit on the login page: a view of the page and a click on each sign-in
 * provider, sent before anyone is logged in. Load it after audit_beacon.js, on
 * the login page only; the router serves it at GET /api/audit/login_audit.js.
 *
 *   <script src="/api/audit/audit_beacon.js"></script>
 *   <script src="/api/audit/login_audit.js"></script>
 *   initLoginPageAudit("chat");
 *   googleButton.addEventListener("click", function () {
 *     trackLoginProviderClick("google_sign_in");
 *   });
 *
 * The events are the login surface of il-audit 1.0 (surface "auth_login";
 * element ids login_page, google_sign_in, microsoft_sign_in), which a router
 * built with anonymous=login_surface(...) accepts without a session, and only
 * from the login page's path. Globals: initLoginPageAudit(appName),
 * trackLoginProviderClick(providerElementId).
 */
(function (global) {
  "use strict";

  var SURFACE = "auth_login";
  var PAGE_ID = "login_page";

  function ready() {
    return typeof global.auditTrack === "function" && typeof global.auditBeaconFlush === "function";
  }

  /** Start the beacon script and record one view of the login page. */
  function initLoginPageAudit(appName) {
    if (!ready() || typeof global.initAuditBeacon !== "function") return false;
    global.initAuditBeacon({ app: appName || "chat" });
    global.auditTrack("ui.tab.viewed", {
      surface: SURFACE,
      element_id: PAGE_ID,
      resource_type: "page",
      resource_id: PAGE_ID,
      interaction: "view",
    });
    global.auditBeaconFlush();
    return true;
  }

  /** Record a click on a sign-in button (google_sign_in or microsoft_sign_in), sent at once. */
  function trackLoginProviderClick(providerElementId) {
    if (!ready() || !providerElementId) return false;
    var id = String(providerElementId);
    global.auditTrack("ui.element.clicked", {
      surface: SURFACE,
      element_id: id,
      resource_type: "button",
      resource_id: id,
      interaction: "click",
    });
    // Forced: the page is about to go to the provider, and a send deferred by
    // minFlushGapMs would be left to the pagehide beacon.
    global.auditBeaconFlush(true);
    return true;
  }

  global.initLoginPageAudit = initLoginPageAudit;
  global.trackLoginProviderClick = trackLoginProviderClick;
})(typeof window !== "undefined" ? window : globalThis);
