/* The console's ticket pages: SLA timers that count down and change state (with text, not
   colour alone), and the queue's rows refreshed from /console/tickets/rows without a reload.
   No inline script anywhere: the Content-Security-Policy forbids it. */
(function () {
  "use strict";
  var strings = document.getElementById("sla-strings");
  if (!strings) {
    return;
  }
  var d = strings.dataset;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) {
      return String(values[key]);
    });
  }

  function duration(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    var units = [
      [Math.floor(seconds / 86400), d.unitD],
      [Math.floor((seconds % 86400) / 3600), d.unitH],
      [Math.floor((seconds % 3600) / 60), d.unitMin],
      [seconds % 60, d.unitS]
    ];
    var first = 0;
    while (first < units.length - 1 && units[first][0] === 0) {
      first += 1;
    }
    var shown = [units[first]];
    if (first + 1 < units.length && units[first + 1][0] > 0) {
      shown.push(units[first + 1]);
    }
    return shown.map(function (unit) {
      return fill(unit[1], { n: unit[0] });
    }).join(" ");
  }

  function tick() {
    var now = Date.now();
    var timers = document.querySelectorAll('.sla-timer[data-running="true"]');
    Array.prototype.forEach.call(timers, function (timer) {
      var remaining = (Date.parse(timer.dataset.due) - now) / 1000;
      var state = "ok";
      if (remaining < 0) {
        state = "breached";
      } else if (remaining <= Number(timer.dataset.atRisk)) {
        state = "at_risk";
      }
      var label = state === "breached" ? d.breached : state === "at_risk" ? d.atRisk : d.ok;
      var when = fill(remaining < 0 ? d.overdue : d.dueIn, { time: duration(remaining) });
      if (timer.dataset.state !== state) {
        timer.classList.remove("sla-" + timer.dataset.state);
        timer.classList.add("sla-" + state);
        timer.dataset.state = state;
      }
      var text = timer.querySelector(".sla-text");
      var value = label + " · " + when;
      if (text && text.textContent !== value) {
        text.textContent = value;
      }
    });
  }

  tick();
  window.setInterval(tick, 1000);

  var table = document.getElementById("ticket-table");
  if (!table || !table.dataset.rowsUrl) {
    return;
  }

  function refresh() {
    if (document.hidden) {
      return;
    }
    window.fetch(table.dataset.rowsUrl, {
      credentials: "same-origin",
      headers: { Accept: "text/html" }
    }).then(function (response) {
      if (!response.ok || response.headers.get("X-Kefu-Partial") !== "ticket-rows") {
        // Signed out meanwhile (the answer is the sign-in page): let the page show it.
        if (response.redirected) {
          window.location.reload();
        }
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (html === null) {
        return;
      }
      var body = document.getElementById("ticket-rows");
      var active = document.activeElement;
      var focused = active && body.contains(active) ? active.getAttribute("href") : null;
      body.innerHTML = html;
      if (focused) {
        var again = body.querySelector('a[href="' + focused + '"]');
        if (again) {
          again.focus();
        }
      }
      tick();
      var updated = document.getElementById("rows-updated");
      if (updated) {
        var lang = document.documentElement.lang || undefined;
        updated.textContent = fill(d.updated, { time: new Date().toLocaleTimeString(lang) });
      }
    }).catch(function () {
      /* The next refresh tries again. */
    });
  }

  window.setInterval(refresh, Number(table.dataset.refreshSeconds || 30) * 1000);
}());
