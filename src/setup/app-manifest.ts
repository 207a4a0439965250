import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";

/**
 * app.yml, the GitHub App's manifest (docs.github.com "Registering a GitHub App from a manifest"):
 * only the fields the relay sends; a misspelt one is an error, not a silently smaller app.
 */
const AppYml = z.strictObject({
  name: z.string().min(1).max(34, "must be at most 34 characters (GitHub's limit for an app's name)"),
  url: z.url(),
  description: z.string().optional(),
  public: z.boolean().optional(),
  hook_attributes: z.strictObject({ active: z.boolean().optional() }).optional(),
  default_events: z.array(z.string().regex(/^[a-z_]+$/, "must be an event name, e.g. push")).min(1),
  default_permissions: z.record(z.string(), z.enum(["read", "write"])),
});
export type AppYml = z.infer<typeof AppYml>;

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Reads and checks app.yml; its problems name the key and say what is expected. */
export function readAppYml(path: string): AppYml {
  let data: unknown;
  try {
    data = parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ManifestError(`${path} cannot be read as YAML (${(error as Error).message}): it is the GitHub App's manifest, kept beside package.json`);
  }
  const parsed = AppYml.safeParse(data);
  if (!parsed.success) {
    throw new ManifestError(`${path} is not a valid app manifest:\n${parsed.error.issues.map((i) => `  - ${i.path.join(".") || "(top)"}: ${i.message}`).join("\n")}`);
  }
  return parsed.data;
}

/** The manifest GitHub's "new app" form takes: app.yml, plus where deliveries go and where GitHub sends the person back. */
export function buildManifest(app: AppYml, o: { hookUrl: string; redirectUrl: string }) {
  return {
    name: app.name,
    url: app.url,
    ...(app.description !== undefined ? { description: app.description } : {}),
    public: app.public ?? false,
    hook_attributes: { url: o.hookUrl, active: app.hook_attributes?.active ?? true },
    redirect_url: o.redirectUrl,
    default_events: app.default_events,
    default_permissions: app.default_permissions,
  };
}
export type Manifest = ReturnType<typeof buildManifest>;
