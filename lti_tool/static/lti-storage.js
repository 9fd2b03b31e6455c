/* LTI client-side platform storage (1EdTech "LTI Client Side postMessages").
 *
 * Inside an LMS iframe the browser may drop the tool's cookies. Where the platform offers
 * storage (it sends lti_storage_target at login), the tool keeps its login state there instead:
 * put_data before going to the platform's login, get_data when the launch comes back.
 * Both the current message names (lti.*) and the older ones (org.imsglobal.lti.*) are spoken.
 */
(function () {
  "use strict";

  function targetFrame(name) {
    if (!window.parent || window.parent === window) return null;
    if (!name || name === "_parent") return window.parent;
    try {
      return window.parent.frames[name] || null;
    } catch (e) {
      return null;
    }
  }

  function PlatformStorage(targetName, origin, timeoutMs) {
    this.frame = targetFrame(targetName);
    this.origin = origin;
    this.timeoutMs = timeoutMs || 2000;
    this.prefix = null; // "lti." or "org.imsglobal.lti." once capabilities answered
  }

  PlatformStorage.prototype.send = function (subject, fields) {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (!self.frame) return reject(new Error("no storage frame"));
      var id = "m" + Math.random().toString(36).slice(2) + Date.now().toString(36);
      var timer = setTimeout(function () {
        window.removeEventListener("message", onMessage);
        reject(new Error("timeout"));
      }, self.timeoutMs);
      function onMessage(event) {
        var data = event.data;
        if (event.origin !== self.origin || !data || data.message_id !== id) return;
        if (data.subject !== subject + ".response") return;
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (data.error) reject(new Error(data.error.message || data.error.code || "storage error"));
        else resolve(data);
      }
      window.addEventListener("message", onMessage);
      var message = { subject: subject, message_id: id };
      for (var key in fields) message[key] = fields[key];
      self.frame.postMessage(message, self.origin);
    });
  };

  PlatformStorage.prototype.negotiate = function () {
    var self = this;
    if (self.prefix) return Promise.resolve(self.prefix);
    function supports(prefix) {
      return self.send(prefix + "capabilities", {}).then(function (answer) {
        var names = (answer.supported_messages || []).map(function (m) { return m.subject; });
        if (names.indexOf(prefix + "put_data") < 0 || names.indexOf(prefix + "get_data") < 0) {
          throw new Error("storage not supported");
        }
        self.prefix = prefix;
        return prefix;
      });
    }
    return supports("lti.").catch(function () { return supports("org.imsglobal.lti."); });
  };

  PlatformStorage.prototype.put = function (key, value) {
    var self = this;
    return self.negotiate().then(function (prefix) {
      return self.send(prefix + "put_data", { key: key, value: value });
    });
  };

  PlatformStorage.prototype.get = function (key) {
    var self = this;
    return self.negotiate().then(function (prefix) {
      return self.send(prefix + "get_data", { key: key });
    }).then(function (answer) { return answer.value; });
  };

  window.LtiPlatformStorage = PlatformStorage;

  /* Login page: store state and nonce, then continue to the platform's login either way
   * (if storage fails, a cookie may still carry the state). */
  function runLogin(el) {
    var storage = new PlatformStorage(el.dataset.target, el.dataset.origin);
    var next = function () { window.location.replace(el.dataset.next); };
    Promise.all([
      storage.put("lti_state_" + el.dataset.state, el.dataset.state),
      storage.put("lti_nonce_" + el.dataset.nonce, el.dataset.nonce)
    ]).then(next, next);
  }

  /* Launch page: read the state back and confirm it; show the new-window fallback if it is gone. */
  function runConfirm(el) {
    var storage = new PlatformStorage(el.dataset.target, el.dataset.origin);
    var form = document.getElementById("lti-confirm-form");
    storage.get("lti_state_" + el.dataset.state).then(function (value) {
      if (!value) throw new Error("state not stored");
      form.elements.state.value = value;
      form.submit();
    }).catch(function () {
      document.getElementById("lti-confirm-waiting").hidden = true;
      document.getElementById("lti-confirm-fallback").hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var login = document.getElementById("lti-storage-login");
    if (login) runLogin(login);
    var confirm = document.getElementById("lti-storage-confirm");
    if (confirm) runConfirm(confirm);
  });
})();
