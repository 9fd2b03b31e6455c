/* Media upload forms: drag and drop onto the file fields, and a progress bar while the file is sent.
   Without this script the same form posts normally; the server answers the same way. */
(function () {
  "use strict";

  function fillTimeZone(form) {
    var field = form.querySelector("[data-timezone]");
    var due = form.querySelector("input[name=due_at]");
    if (!field || !due || !window.Intl) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var list = document.getElementById("timezones");
    if (zone && list && !list.querySelector('option[value="' + zone + '"]')) {
      var option = document.createElement("option");
      option.value = zone;
      list.appendChild(option);
    }
    // A new due date is meant in the teacher's own zone unless they typed another one.
    due.addEventListener("change", function () {
      if (zone && (!field.value || field.value === "UTC") && !field.dataset.touched) field.value = zone;
    });
    field.addEventListener("input", function () { field.dataset.touched = "1"; });
  }

  // Messages come translated from the page (data-msg-* on the form); {name} marks a value.
  function message(element, key, fallback, values) {
    var form = element.closest("form");
    var text = (form && form.getAttribute("data-msg-" + key)) || fallback;
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(values[name]); });
    return text;
  }

  function setupDropzone(zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) return;
    var note = document.createElement("p");
    note.className = "muted dropzone-file";
    note.setAttribute("aria-live", "polite");
    zone.appendChild(note);
    function show() {
      note.textContent = input.files && input.files.length ? message(zone, "selected", "Selected: {name}", { name: input.files[0].name }) : "";
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
    input.addEventListener("change", show);
  }

  function showErrors(form, body) {
    form.querySelectorAll(".field-error.live").forEach(function (node) { node.remove(); });
    var fields = (body && body.fields) || {};
    Object.keys(fields).forEach(function (name) {
      var input = form.querySelector("#f-" + name);
      if (!input) return;
      input.setAttribute("aria-invalid", "true");
      var message = document.createElement("p");
      message.className = "field-error live";
      message.id = "e-" + name;
      message.textContent = fields[name];
      input.insertAdjacentElement("afterend", message);
      var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(message.id) < 0) described.push(message.id);
      input.setAttribute("aria-describedby", described.join(" "));
    });
  }

  function setupUpload(form) {
    var bar = form.querySelector("[data-progress] progress");
    var box = form.querySelector("[data-progress]");
    var status = form.querySelector("[data-status]");
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (progress) {
        if (!progress.lengthComputable) return;
        var percent = Math.round((progress.loaded / progress.total) * 100);
        bar.value = percent;
        status.textContent = message(form, "progress", "Uploading: {percent}%", { percent: percent });
      });
      request.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(request.responseText); } catch (ignored) { body = null; }
        if (request.status >= 200 && request.status < 300 && body && body.redirect) {
          status.textContent = message(form, "saved", "Saved.");
          window.location.assign(body.redirect);
          return;
        }
        box.hidden = true;
        button.disabled = false;
        status.textContent = (body && body.message) || message(form, "failed", "The upload failed (HTTP {status}).", { status: request.status });
        showErrors(form, body);
      });
      request.addEventListener("error", function () {
        box.hidden = true;
        button.disabled = false;
        status.textContent = message(form, "interrupted", "The upload was interrupted. Check your connection and try again.");
      });
      box.hidden = false;
      bar.value = 0;
      button.disabled = true;
      status.textContent = message(form, "uploading", "Uploading…");
      request.send(new FormData(form));
    });
  }

  document.querySelectorAll("form").forEach(fillTimeZone);
  document.querySelectorAll("[data-dropzone]").forEach(setupDropzone);
  document.querySelectorAll("form[data-upload]").forEach(setupUpload);
})();
