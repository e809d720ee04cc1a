// nbreg: the one script of the web interface. Everything works without
// it; it only adds a button that adds a metadata row to the search form.
(function () {
  var button = document.getElementById("add-mrow");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var rows = document.querySelectorAll(".mrow");
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    var n = rows.length;
    copy.querySelectorAll("input, select, label").forEach(function (el) {
      if (el.id) el.id = el.id.replace(/-\d+$/, "-" + n);
      if (el.htmlFor) el.htmlFor = el.htmlFor.replace(/-\d+$/, "-" + n);
      if (el.tagName === "INPUT") el.value = "";
      if (el.tagName === "SELECT") el.selectedIndex = 0;
      if (el.tagName === "LABEL") el.textContent = el.textContent.replace(/\d+$/, n);
    });
    last.after(copy);
    copy.querySelector("input").focus();
  });
})();
