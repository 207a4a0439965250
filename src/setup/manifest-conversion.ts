import { z } from "zod";

/**
 * GitHub's answer to `POST /app-manifests/{code}/conversions` (operation apps/create-from-manifest):
 * the new app and its credentials. Only the fields the relay keeps are read.
 */
const Conversion = z.object({
  id: z.number().int().positive(),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  name: z.string(),
  html_url: z.url(),
  webhook_secret: z.string().min(1, "is empty: the manifest's hook_attributes should have made GitHub create one"),
  pem: z.string().regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "is not a PEM private key"),
});
export type NewApp = z.infer<typeof Conversion>;

export class ConversionError extends Error {
  override name = "ConversionError";
}

/**
 * Exchanges the one-time code GitHub sent back (valid for an hour, usable once) for the app's id,
 * key and webhook secret. Needs no credentials: the code is the credential.
 */
export async function convertManifestCode(apiUrl: string, code: string, fetchFn: typeof fetch = fetch): Promise<NewApp> {
  const url = `${apiUrl}/app-manifests/${encodeURIComponent(code)}/conversions`;
  let res: Response;
  try {
    res = await fetchFn(url, { method: "POST", headers: { accept: "application/vnd.github+json", "user-agent": "openci-relay-setup" }, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new ConversionError(`could not reach ${apiUrl} (${(error as Error).message}): check the network, or GHE_HOST / GHE_PROTOCOL for GitHub Enterprise`);
  }
  const text = await res.text();
  if (res.status !== 201) {
    const message = safeMessage(text);
    const hint = res.status === 404 || res.status === 422
      ? "the code is unknown, used already, or older than an hour: start again from the setup page"
      : "try again from the setup page";
    throw new ConversionError(`GitHub answered ${res.status}${message ? ` (${message})` : ""} to the app's creation: ${hint}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ConversionError("GitHub's answer to the app's creation is not JSON: try again from the setup page");
  }
  const parsed = Conversion.safeParse(body);
  if (!parsed.success) {
    throw new ConversionError(`GitHub's answer lacks what the relay needs: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

function safeMessage(text: string): string | undefined {
  const parsed = z.object({ message: z.string().max(300) }).safeParse((() => { try { return JSON.parse(text); } catch { return undefined; } })());
  return parsed.success ? parsed.data.message : undefined;
}
