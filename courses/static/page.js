/* Keeps keyboard users where they were: after a form reloads the page, focus goes to the problem
   list when there is one, else to the element the address points at (a moved item, a result). */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary");
  var target = !summary && window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  var element = summary || target;
  if (!element) return;
  if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
  element.focus();
})();
