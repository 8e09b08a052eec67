// The calculator, live: revenue = missed calls x close rate x average order value.
(function () {
  "use strict";
  var form = document.getElementById("calculator");
  if (!form) { return; }
  var money = function (v) {
    return v.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}) + " " + form.dataset.currency;
  };
  var update = function () {
    var missed = parseFloat(document.getElementById("missed").value) || 0;
    var rate = (parseFloat(document.getElementById("close_rate").value) || 0) / 100;
    var aovText = document.getElementById("aov").value;
    var aov = parseFloat(aovText);
    var known = aovText !== "" && !isNaN(aov);
    document.getElementById("bookings").textContent = (missed * rate).toFixed(1) + " bookings";
    document.getElementById("revenue").textContent = known ? money(missed * rate * aov) : "n/a";
    document.getElementById("band-low").textContent = known ? money(missed * parseFloat(form.dataset.bandLow) * aov) : "n/a";
    document.getElementById("band-high").textContent = known ? money(missed * parseFloat(form.dataset.bandHigh) * aov) : "n/a";
  };
  form.addEventListener("input", update);
  update();
})();
