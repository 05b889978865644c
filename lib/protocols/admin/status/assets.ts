/**
 * The status page's two assets, served by the agent itself (no CDN, no build step): the
 * stylesheet, and the one script that keeps the page live over Server-Sent Events. The script
 * opens `/status/events` while the tab is visible, swaps in the fragments it receives, says so
 * when the agent cannot be reached and reconnects.
 */

/** The stylesheet: readable without colour, tables stacked below 640 px. */
export const STATUS_CSS = `:root{color-scheme:light dark;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;
--idle:#57606a;--line:#d0d7de;--bg:#fff;--fg:#1f2328;--head:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--ok:#3fb950;--warn:#d29922;--bad:#f85149;--idle:#8b949e;
--line:#30363d;--bg:#0d1117;--fg:#e6edf3;--head:#161b22}}
*{box-sizing:border-box}
body{margin:0;padding:0 1rem 2rem;font:15px/1.45 system-ui,sans-serif;background:var(--bg);
color:var(--fg)}
h1{font-size:1.4rem;margin:.8rem 0 .4rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
a{color:inherit}
.live{margin:0 -1rem;padding:.3rem 1rem;font-size:.85rem;background:var(--head);
border-bottom:1px solid var(--line)}
.live.bad{background:var(--bad);color:#fff;font-weight:600}
nav ul{display:flex;flex-wrap:wrap;gap:.4rem 1rem;list-style:none;padding:0;margin:.6rem 0}
.facts{display:flex;flex-wrap:wrap;gap:.3rem 1.4rem;margin:.4rem 0 .8rem}
.facts div{display:flex;gap:.4rem;min-width:0}.facts dt{font-weight:600}
.facts dd{margin:0;min-width:0}
dd,h1{overflow-wrap:anywhere}td,th{overflow-wrap:break-word}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
thead th{background:var(--head)}
.tone{font-weight:600}.tone::before{content:"";display:inline-block;width:.6em;height:.6em;
margin-right:.35em;border-radius:50%;background:currentColor}
.tone-ok{color:var(--ok)}.tone-warn{color:var(--warn)}.tone-bad{color:var(--bad)}
.tone-idle{color:var(--idle)}.none{color:var(--idle)}.empty{color:var(--idle)}
.spark{display:inline-flex;align-items:center;gap:.4rem;white-space:nowrap}
.spark svg{overflow:visible}.spark polyline{fill:none;stroke:currentColor;stroke-width:1.5}
.button,button{display:inline-block;padding:.25rem .6rem;border:1px solid var(--line);
border-radius:4px;background:var(--head);color:inherit;font:inherit;text-decoration:none;
cursor:pointer;white-space:nowrap}
.message{max-width:40rem}
footer{margin-top:2rem;font-size:.85rem;color:var(--idle)}
@media (max-width:640px){table,thead,tbody,tr,th,td,caption{display:block;width:100%}
thead{position:absolute;left:-9999px}tr{border:1px solid var(--line);border-radius:6px;
margin:.5rem 0;padding:.2rem 0}th,td{border:0;padding:.15rem .6rem}
th[data-label]::before,td[data-label]::before{content:attr(data-label) ": ";font-weight:600;
color:var(--idle)}.spark svg{width:72px}}
`;

/** The live-update script (no inline script anywhere: the page's CSP allows none). */
export const STATUS_JS = `"use strict";
(function () {
  var banner = document.getElementById("live");
  var main = document.getElementById("status");
  var since = main ? main.getAttribute("data-view") : null;
  var source = null;
  var retry = null;
  function say(text, bad) {
    if (!banner) return;
    banner.textContent = text;
    banner.className = bad ? "live bad" : "live";
  }
  function apply(parts) {
    Object.keys(parts).forEach(function (id) {
      var html = parts[id];
      var old = document.getElementById(id);
      if (html === null) {
        if (old) old.remove();
      } else if (old) {
        old.outerHTML = html;
      } else if (main) {
        main.insertAdjacentHTML("beforeend", html);
      }
    });
  }
  function connect() {
    if (source || document.hidden) return;
    clearTimeout(retry);
    source = new EventSource("/status/events" + (since ? "?since=" + since : ""));
    source.onopen = function () { say("Live: updates at most once a second.", false); };
    source.addEventListener("update", function (e) {
      apply(JSON.parse(e.data));
      if (e.lastEventId) since = e.lastEventId;
    });
    source.onerror = function () {
      if (source) source.close();
      source = null;
      say("Agent unreachable: reconnecting…", true);
      retry = setTimeout(connect, 2000);
    };
  }
  function pause() {
    clearTimeout(retry);
    if (source) source.close();
    source = null;
    say("Paused while the tab is hidden.", false);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) pause(); else connect();
  });
  say("Connecting…", false);
  connect();
})();
`;
