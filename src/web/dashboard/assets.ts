/** The dashboard's only style sheet and script: small enough to inline or serve from memory, no build step. */
export const DASHBOARD_CSS = `
:root { --fg:#1b1f24; --muted:#57606a; --bg:#fff; --line:#d0d7de; --pass:#116329; --pass-bg:#dafbe1; --fail:#a40e26; --fail-bg:#ffebe9;
  --run:#0550ae; --run-bg:#ddf4ff; --wait:#6e5400; --wait-bg:#fff8c5; --off:#57606a; --off-bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:.5rem 1.2rem; align-items:center; padding:.6rem 1rem; border-bottom:1px solid var(--line); }
header .brand { font-weight:700; color:var(--fg); text-decoration:none; }
nav a { margin-right:.8rem; } nav a[aria-current=page] { font-weight:700; text-decoration:none; color:var(--fg); }
.live { margin-left:auto; font-size:.85rem; color:var(--muted); }
main { padding:1rem; max-width:100%; }
footer { padding:1rem; color:var(--muted); font-size:.85rem; border-top:1px solid var(--line); }
a { color:#0550ae; }
h1 { font-size:1.35rem; margin:.2rem 0 .8rem; } h2 { font-size:1.1rem; margin:1.4rem 0 .5rem; }
.scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; margin:.4rem 0 1rem; }
caption { text-align:left; color:var(--muted); padding:.3rem 0; }
th, td { border:1px solid var(--line); padding:.35rem .55rem; vertical-align:top; text-align:left; }
thead th { background:#f6f8fa; font-weight:600; }
th.group { background:#f6f8fa; font-size:.85rem; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); }
td.cell { white-space:nowrap; }
.status { display:inline-block; padding:.05rem .45rem; border-radius:1rem; font-size:.85rem; font-weight:600; white-space:nowrap; }
.s-passed { color:var(--pass); background:var(--pass-bg); }
.s-failed, .s-error, .s-refused { color:var(--fail); background:var(--fail-bg); }
.s-in_progress, .s-queued { color:var(--run); background:var(--run-bg); }
.s-gated, .s-timed_out { color:var(--wait); background:var(--wait-bg); }
.s-cancelled, .s-skipped, .s-neutral { color:var(--off); background:var(--off-bg); }
.muted { color:var(--muted); } .small { font-size:.85rem; }
form.filters { display:flex; flex-wrap:wrap; gap:.6rem; align-items:end; margin-bottom:.8rem; }
form.filters label { display:flex; flex-direction:column; font-size:.85rem; color:var(--muted); }
select, input, button { font:inherit; padding:.25rem .4rem; }
button { cursor:pointer; }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:.2rem .8rem; } dl.meta dt { color:var(--muted); }
svg.graph { max-width:100%; height:auto; border:1px solid var(--line); border-radius:.4rem; }
ul.plain { padding-left:1.1rem; margin:0; }
.sr { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
`;

/**
 * Live updates: on events of the stream, fetch <main> again (at most a quarter second after the
 * first of a burst) and swap it in, keeping each table's scroll position, and waiting while
 * someone is using a control on the page. The stream starts from the page's own log position, so
 * nothing between rendering and connecting is missed, and it reconnects when closed.
 */
export const LIVE_JS = `(() => {
  const main = document.getElementById("main");
  if (!window.EventSource || !main) return;
  const status = document.getElementById("live");
  const url = new URL(location.href);
  url.searchParams.set("fragment", "main");
  let timer = null, busy = false, es = null, lastId = main.dataset.lastEventId || "", retry = 1000;
  if (!/^\\d+-\\d+$/.test(lastId)) lastId = "";
  const using = () => { const a = document.activeElement; return a && a !== document.body && main.contains(a) && /^(SELECT|INPUT|TEXTAREA|BUTTON)$/.test(a.tagName); };
  const refresh = async () => {
    timer = null;
    if (busy || using()) { timer = setTimeout(refresh, 500); return; }
    busy = true;
    try {
      const res = await fetch(url, { headers: { accept: "text/html" } });
      if (!res.ok) return;
      const html = await res.text();
      const scrolls = [...main.querySelectorAll(".scroll")].map((el) => el.scrollLeft);
      main.innerHTML = html;
      [...main.querySelectorAll(".scroll")].forEach((el, i) => { el.scrollLeft = scrolls[i] || 0; });
      main.dataset.updated = String(Date.now());
    } catch { /* the next event tries again */ } finally { busy = false; }
  };
  const say = (text) => { if (status.textContent !== text) status.textContent = text; };
  const connect = () => {
    es = new EventSource("/api/v1/events" + (lastId ? "?lastEventId=" + encodeURIComponent(lastId) : ""));
    es.onopen = () => { retry = 1000; say("live"); };
    es.onmessage = (e) => { if (e.lastEventId) lastId = e.lastEventId; if (!timer) timer = setTimeout(refresh, 250); };
    es.onerror = () => {
      say("reconnecting…");
      if (es.readyState === 2) { es.close(); setTimeout(connect, retry + Math.random() * retry); retry = Math.min(retry * 2, 30000); }
    };
  };
  connect();
})();
`;
