// Copy buttons and upload progress; every page works without this file.
(function () {
  "use strict";
  function announce(button, text) {
    var box = button.closest("section, .copy-row");
    var region = box && (box.querySelector(".copied") || (box.nextElementSibling && box.nextElementSibling.classList.contains("copied") ? box.nextElementSibling : null));
    if (region) { region.textContent = text; }
  }
  function copy(text, button) {
    var done = function () { announce(button, "Copied to the clipboard."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { announce(button, "Select the text and copy it."); });
    } else {
      var area = document.createElement("textarea");
      area.value = text; area.setAttribute("readonly", ""); area.style.position = "absolute"; area.style.left = "-9999px";
      document.body.appendChild(area); area.select();
      try { document.execCommand("copy"); done(); } catch (e) { announce(button, "Select the text and copy it."); }
      document.body.removeChild(area);
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-text]");
    if (!button) { return; }
    if (button.dataset.copy) {
      var source = document.getElementById(button.dataset.copy);
      copy("value" in source ? source.value : source.textContent.trim(), button);
    } else {
      copy(document.querySelector('[data-testid="' + button.dataset.copyText + '"]').textContent, button);
    }
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = event.target.querySelector && event.target.querySelector(".upload-progress");
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });
})();
