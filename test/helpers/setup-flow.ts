/** Drives the setup page's form the way a browser would, without one: read the form, post it, follow GitHub's redirect. */
export interface SetupForm {
  action: string;
  manifest: Record<string, any>;
}

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** The register form of a setup page: where it posts and the manifest it carries. */
export function readSetupForm(html: string): SetupForm {
  const form = /<form id="register" method="post" action="([^"]+)">\s*<input type="hidden" name="manifest" value="([^"]*)">/.exec(html);
  if (!form) throw new Error(`no register form in the page:\n${html}`);
  return { action: unescape(form[1]!), manifest: JSON.parse(unescape(form[2]!)) as Record<string, any> };
}

/** Posts the form to GitHub's "new app" page (the fake's stand-in) and returns where GitHub sends the person back. */
export async function submitSetupForm(form: SetupForm): Promise<string> {
  const res = await fetch(form.action, { method: "POST", body: new URLSearchParams({ manifest: JSON.stringify(form.manifest) }), redirect: "manual" });
  const location = res.headers.get("location");
  if (res.status !== 302 || !location) throw new Error(`GitHub's new-app page answered ${res.status}: ${await res.text()}`);
  return location;
}
