/* The notification bell: polls the unread count so new notifications show without a reload.
   Pages live in an LMS iframe without cookies, so the launch id travels in a header. */
(function () {
  "use strict";
  var bell = document.querySelector("[data-notification-bell]");
  if (!bell || !window.fetch) { return; }
  var url = bell.getAttribute("data-unread-url");
  var launchId = bell.getAttribute("data-launch-id");
  var count = bell.querySelector("[data-count]");
  var status = document.querySelector("[data-bell-status]");
  var every = (parseInt(bell.getAttribute("data-poll-seconds"), 10) || 30) * 1000;
  var shown = parseInt(count.textContent, 10) || 0;
  var timer = null;

  function render(unread) {
    count.textContent = String(unread);
    count.hidden = unread === 0;
    // The page gives the labels in its language; {count} marks the number.
    var some = bell.getAttribute("data-label-unread") || "Notifications: {count} unread";
    var none = bell.getAttribute("data-label-none") || "Notifications, none unread";
    bell.setAttribute("aria-label", unread ? some.split("{count}").join(String(unread)) : none);
  }

  function poll() {
    if (document.hidden) { return; }
    fetch(url, { headers: { "X-Launch-Id": launchId, "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) { window.clearInterval(timer); return null; }  // the launch ended
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) { return; }
        if (data.unread > shown && status && data.newest.length) {
          var fresh = bell.getAttribute("data-label-new") || "New notification: {title}";
          status.textContent = fresh.split("{title}").join(data.newest[0].title);
        }
        shown = data.unread;
        render(shown);
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  timer = window.setInterval(poll, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
})();
