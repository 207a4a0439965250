/** The setup pages: plain HTML, no script, no external resource (it works offline and behind any CSP). */

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · OpenCI Relay</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
code{background:#f6f8fa;padding:.1em .3em;border-radius:4px}button{font:inherit;padding:.5em 1em;cursor:pointer}
.error{border-left:4px solid #cf222e;padding-left:1rem}.ok{border-left:4px solid #1a7f37;padding-left:1rem}
fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0}li{margin:.3em 0}</style></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>`;
}

export interface FormPage {
  /** where the form posts: GitHub's "new app" page, with the state that comes back on the callback */
  action: string;
  manifest: unknown;
  org: string | undefined;
  githubWeb: string;
  hookUrl: string;
  hookVia: "WEBHOOK_PROXY_URL" | "OPENCI_PUBLIC_URL";
  events: string[];
}

export function setupFormPage(p: FormPage): string {
  const owner = p.org ? `the organization <strong>${esc(p.org)}</strong>` : "your personal account";
  return page("Register the GitHub App", `
<p>The relay has no GitHub App yet (no <code>APP_ID</code>). This creates one from <code>app.yml</code> through
GitHub's app manifest flow: GitHub shows what the app asks for, you confirm, and the relay writes the app's id,
private key and webhook secret into <code>.env</code>.</p>
<ul>
<li>Owner: ${owner} on <code>${esc(p.githubWeb)}</code></li>
<li>Webhook URL: <code id="hook-url">${esc(p.hookUrl)}</code> (from <code>${p.hookVia}</code>)</li>
<li>Events: ${p.events.map((e) => `<code>${esc(e)}</code>`).join(", ")}</li>
</ul>
<form id="register" method="post" action="${esc(p.action)}">
<input type="hidden" name="manifest" value="${esc(JSON.stringify(p.manifest))}">
<button type="submit">Register the GitHub App on GitHub</button>
</form>
<fieldset><legend>Owned by an organization instead?</legend>
<form id="owner" method="get" action="/setup">
<label>Organization login <input name="org" value="${esc(p.org ?? "")}" pattern="[A-Za-z0-9][A-Za-z0-9\\-]{0,38}"></label>
<button type="submit">Use this organization</button>
</form></fieldset>
<p>GitHub lets you change the app's name before you create it (names are unique across GitHub).</p>`);
}

export function noWebhookUrlPage(): string {
  return page("Where should GitHub send webhooks?", `
<div class="error"><p>The app needs a webhook URL GitHub can reach, and neither variable that gives one is set:</p>
<ul>
<li><code>OPENCI_PUBLIC_URL</code>: the relay's public address (a server); GitHub posts to <code>OPENCI_PUBLIC_URL/api/github/webhooks</code>.</li>
<li><code>WEBHOOK_PROXY_URL</code>: a webhook proxy channel (on a laptop): open <a href="https://smee.io/new">smee.io/new</a>
and copy the channel's address; the relay forwards its deliveries to itself.</li>
</ul>
<p>Set one in <code>.env</code>, restart the relay (<code>npm start</code>) and reload this page.</p></div>`);
}

export interface DonePage {
  name: string;
  htmlUrl: string;
  envFile: string;
  written: string[];
  kept: string[];
}

export function donePage(p: DonePage): string {
  const install = `${p.htmlUrl.replace(/\/+$/, "")}/installations/new`;
  const kept = p.kept.length === 0 ? "" : `
<div class="error"><p>Already set in <code>${esc(p.envFile)}</code>, and kept as they were: ${p.kept.map((k) => `<code>${esc(k)}</code>`).join(", ")}.
The new app's values for them were not written anywhere. ${keptAdvice(p.kept)}</p></div>`;
  return page("The GitHub App is registered", `
<div class="ok"><p><strong>${esc(p.name)}</strong> exists. Written to <code>${esc(p.envFile)}</code> (readable by you only):
${p.written.map((k) => `<code>${esc(k)}</code>`).join(", ") || "nothing"}.</p></div>${kept}
<ol>
<li><a id="install" href="${esc(install)}">Install the app</a> on the repositories the relay should see: the upstreams whose tags it relays, and the downstreams whose workflows it starts.</li>
<li>Restart the relay (stop it, then <code>npm start</code>): it reads <code>.env</code> and starts with the app.</li>
</ol>
<p>The app's settings: <a href="${esc(p.htmlUrl)}">${esc(p.htmlUrl)}</a></p>`);
}

function keptAdvice(kept: string[]): string {
  const advice: string[] = [];
  if (kept.includes("WEBHOOK_SECRET")) advice.push("Set the app's webhook secret (its settings → Webhook secret) to your WEBHOOK_SECRET.");
  if (kept.includes("PRIVATE_KEY")) advice.push("Generate a private key in the app's settings if yours is not this app's.");
  if (kept.includes("APP_ID")) advice.push("Check that APP_ID is the new app's id (its settings → About).");
  return advice.join(" ");
}

export function errorPage(title: string, message: string, status: number): { status: number; html: string } {
  return { status, html: page(title, `<div class="error"><p>${esc(message)}</p></div><p><a href="/setup">Back to the setup page</a></p>`) };
}
