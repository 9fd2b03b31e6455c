/* Reports how far a learner got in a video or audio: every 15 seconds while playing, and on pause
   and at the end. Posts JSON with the launch id and CSRF token in headers (no cookies needed). */
(function () {
  "use strict";
  var INTERVAL_MS = 15000;

  function report(media) {
    var duration = media.duration;
    if (!isFinite(duration) || duration <= 0) return;
    var position = Math.min(Math.max(media.currentTime || 0, 0), duration);
    fetch(media.dataset.progressUrl, {
      method: "POST",
      keepalive: true,
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Launch-Id": media.dataset.launchId,
        "X-CSRF-Token": media.dataset.csrfToken
      },
      body: JSON.stringify({ position: position, duration: duration })
    }).catch(function () { /* progress is best effort; playback goes on */ });
  }

  document.querySelectorAll("video[data-progress-url], audio[data-progress-url]").forEach(function (media) {
    var timer = null;
    media.addEventListener("play", function () {
      if (timer === null) timer = window.setInterval(function () { report(media); }, INTERVAL_MS);
    });
    function stop() {
      if (timer !== null) { window.clearInterval(timer); timer = null; }
      report(media);
    }
    media.addEventListener("pause", stop);
    media.addEventListener("ended", stop);
  });
})();
