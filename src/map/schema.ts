import { z } from "zod";
import { SinkSpec } from "../sinks/sink-spec.js";
import { GITHUB_REPO, GITLAB_PATH } from "./places.js";
import { gitUrlProblem, serverUrlProblem } from "./git-url.js";

/**
 * The dependency map: format v1 (projects and their upstreams) and format v2 (foundations, project
 * metadata, richer edge filters, cascades). Every field is documented in docs/map.md ("The dependency
 * map"); schema/openci-map.schema.json is generated from this file (`npm run schema`).
 */

const GithubRepo = z.string().regex(GITHUB_REPO, "must be 'owner/repo', e.g. acme/lib");

const EnvName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "must name an environment variable (secrets are never written in the map)");

const GitlabLocation = z.union([
  z.string().regex(GITLAB_PATH, "must be a GitLab project path 'group/project', e.g. group/tool"),
  z.strictObject({
    host: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name, e.g. gitlab.example.org").optional().describe("Another GitLab instance than GITLAB_URL's; omitted: GITLAB_URL's."),
    project: z.string().regex(GITLAB_PATH, "must be a GitLab project path 'group/project'"),
    token_env: EnvName.optional().describe("The variable holding an API token for that host (default GITLAB_TOKEN)."),
    webhook_secret_env: EnvName.optional().describe("The variable holding this project's webhook secret token, accepted besides GITLAB_WEBHOOK_SECRET."),
  }),
]);

const Duration = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, "must be a duration such as 30m, 6h or 1d");

const Trigger = z.strictObject({
  workflow: z.union([z.string().min(1), z.number().int().positive()]).optional().describe("GitHub Actions: the workflow file name (or id) to dispatch with workflow_dispatch."),
  event_type: z.string().min(1).max(100, "must be at most 100 characters (GitHub's limit)").optional().describe("GitHub: send a repository_dispatch with this event_type instead of a workflow_dispatch."),
  ref: z.string().min(1).optional().describe("The branch or tag the downstream pipeline runs on."),
  token_env: EnvName.optional().describe("GitLab: the variable holding a pipeline trigger token; without it the API token creates the pipeline."),
});

/** A server the relay calls with credentials: https (http on loopback only), nothing secret in the URL. */
const serverUrl = (example: string) => z.string().max(2000, "must be at most 2000 characters").superRefine((text, ctx) => {
  const problem = serverUrlProblem(text, example);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A Jenkins job as a downstream's runner (format v2): its server, its path, and the account that starts it. */
const JenkinsTrigger = z.strictObject({
  url: serverUrl("https://jenkins.example.org/ci").describe("The Jenkins server's URL, with any context path (https://jenkins.example.org/ci)."),
  job: z.string().regex(/^[^/\s]+(\/[^/\s]+)*$/, "must be the job's path, its folders and name joined by '/', e.g. functest/kata-containers").describe("The job's full name: folders and name joined by '/' (the URL's /job/a/job/b is a/b)."),
  user_env: EnvName.describe("The variable holding the Jenkins user the relay starts builds as."),
  token_env: EnvName.optional().describe("The variable holding that user's API token (recommended: no CSRF crumb needed)."),
  password_env: EnvName.optional().describe("The variable holding that user's password, where no API token can be made (the relay then fetches a CSRF crumb)."),
  notify_secret_env: EnvName.optional().describe("The variable holding the secret of this job's Notification plugin endpoint, POST /api/jenkins/notifications/<secret>; without it the relay polls the build."),
}).superRefine((j, ctx) => {
  if ((j.token_env === undefined) === (j.password_env === undefined)) {
    ctx.addIssue({ code: "custom", message: "name one of token_env (an API token, recommended) or password_env", path: [j.token_env === undefined ? "token_env" : "password_env"] });
  }
});

const Report = z.strictObject({
  comment: z.enum(["auto", "commit", "pull_request", "none"]).optional(),
});

/** How a project, as an upstream, wants to be reported on (the reviewed map only: a declaration cannot say it). */
const ProjectReport = Report.extend({
  declared: z.boolean().optional().describe("Show downstreams that only declared themselves (.github/openci.yml) on this project's commits: checks, roll-up, failure comment. Default false: they are triggered and recorded, but write nothing here."),
});

const Edge = z.strictObject({
  project: z.string().min(1),
  tags: z.string().min(1).max(500).default("*").describe("Glob matched against the upstream tag name (e.g. \"v*\"); every tag when omitted."),
  after_check: z.string().min(1).optional(),
  timeout: Duration.optional(),
  report: Report.optional(),
  pull_requests: z.union([z.boolean(), z.strictObject({ forks: z.boolean() })]).optional().describe("Also test the upstream's pull requests once their checks pass; forks only with `{ forks: true }`."),
});

const Project = z.strictObject({
  id: z.string().min(1).max(200),
  github: GithubRepo.optional(),
  gitlab: GitlabLocation.optional(),
  trigger: Trigger.optional(),
  depends_on: z.array(Edge).optional(),
  report: ProjectReport.optional(),
});

export const MapV1 = z.strictObject({
  version: z.literal(1).optional(),
  projects: z.array(Project),
});

export type MapV1 = z.infer<typeof MapV1>;
export type MapProject = z.infer<typeof Project>;
export type MapEdge = z.infer<typeof Edge>;
/** A project's trigger in either format (v1's has no `jenkins`). */
export type MapTrigger = z.infer<typeof Trigger> & { jenkins?: MapJenkinsTrigger | undefined };
export type MapJenkinsTrigger = z.infer<typeof JenkinsTrigger>;
export type MapGerritLocation = z.infer<typeof GerritLocation>;
export type MapReport = z.infer<typeof ProjectReport>;

/* ----- format v2 ---------------------------------------------------------------------------- */

const Id = z.string().min(1).max(200);
const Url = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

const Foundation = z.strictObject({
  id: Id.regex(/^[a-z0-9][a-z0-9-]*$/, "must be lower-case letters, digits and '-', e.g. openinfra"),
  name: z.string().min(1).max(200),
  url: Url.optional(),
});

/** A package URL (purl) pattern, e.g. pkg:pypi/nova or pkg:oci/kolla/nova-api; `*` matches any run of characters. */
const Purl = z.string().regex(/^pkg:[a-z][a-z0-9.+-]*\/[^\s]+$/, "must be a package URL pattern such as pkg:pypi/nova or pkg:oci/kolla/nova-api");

export const CI_SYSTEMS = ["github-actions", "gitlab-ci", "zuul", "jenkins", "prow", "tekton", "circleci", "travis", "azure-pipelines", "buildkite", "other"] as const;
export const EDGE_EVENTS = ["tag", "release", "pull_request", "change"] as const;

const EdgeV2 = z.strictObject({
  project: z.string().min(1).describe("The upstream's id: this project depends on it."),
  tags: z.string().min(1).max(500).optional().describe("Glob on the upstream tag (\"v*\"); or `tag_regex`; or `semver`: at most one of the three."),
  tag_regex: z.string().min(1).max(500).optional().describe("A regular expression the whole tag must match (anchored for you), e.g. v[0-9]+[.][0-9]+[.][0-9]+; run in linear time, so backreferences, lookbehinds and long lookaheads are refused."),
  semver: z.string().min(1).max(200).optional().describe("A semver range on the tag (a leading \"v\" is ignored), e.g. \">=2.0.0 <3\"."),
  prereleases: z.boolean().optional().describe("Whether prerelease tags (1.2.0-rc.1) count; default: yes for globs and regexes, no for semver."),
  on: z.array(z.enum(EDGE_EVENTS)).min(1).optional().describe("Which upstream events trigger: default [tag, release]; `change`: a Gerrit upstream's open changes (each new patch set, and a `recheck` comment), third-party-CI style."),
  forks: z.boolean().optional().describe("With `on: [pull_request]`: also pull requests from forks."),
  after_check: z.string().min(1).optional(),
  after_artifacts: z.union([z.boolean(), z.array(z.string().min(1)).min(1, "list at least one of the upstream's artifacts, or write true for all of them")]).optional()
    .describe("Trigger only once the release's artifacts are published: true for every one of the upstream's `artifacts`, or a list of them (package URLs as the upstream's entry writes them). Waits up to `timeout` (default 6h), then the downstream is skipped."),
  timeout: Duration.optional(),
  report: Report.optional(),
  cascade: z.boolean().optional().describe("When this downstream's run passes, trigger its own cascading dependants with the same upstream context."),
});

/** Any git host read over smart HTTP (format v2): an upstream the relay watches, with no webhook and no token. */
const GitLocation = z.string().max(2000, "must be at most 2000 characters").superRefine((text, ctx) => {
  const problem = gitUrlProblem(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A Gerrit server's project (format v2): an upstream read through Gerrit's REST API, its stream of events where the map gives SSH. */
const GerritLocation = z.strictObject({
  url: serverUrl("https://review.opendev.org").describe("The server's URL, with any context path: https://review.opendev.org, https://gerrit.onap.org/r."),
  project: z.string().min(1).max(500).regex(/^[^\s]+$/, "must be the project's name on that server, e.g. openstack/nova").describe("The project's name on that server, e.g. openstack/nova."),
  user_env: EnvName.optional().describe("The variable holding the HTTP user (Settings → HTTP Credentials) the relay reads and reviews as; without it, tags are read anonymously."),
  password_env: EnvName.optional().describe("The variable holding that user's HTTP password."),
  ssh: z.strictObject({
    user_env: EnvName.describe("The variable holding the SSH account (it needs the Stream Events capability)."),
    key_env: EnvName.describe("The variable holding that account's private key (OpenSSH format)."),
    port: z.number().int().min(1).max(65535).optional().describe("Gerrit's SSH port (default 29418)."),
    host_key: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]{20,}={0,2}$/, "must be the server's public host key as ssh-keyscan prints it, without the host name: \"ssh-ed25519 AAAA…\"")
      .optional().describe("The server's SSH host key (`ssh-keyscan -p 29418 -t ed25519 review.opendev.org`, less the host name): the relay refuses any other. Without it, the first key seen is trusted until the relay restarts."),
  }).optional().describe("Also follow `gerrit stream-events` over SSH: new tags arrive at once (the poll stays on: the stream has no replay)."),
  zuul: z.strictObject({
    url: serverUrl("https://zuul.opendev.org").describe("Zuul's web root, e.g. https://zuul.opendev.org."),
    tenant: z.string().min(1).max(200).regex(/^[^\s/]+$/, "must be a Zuul tenant name, e.g. openstack").describe("The tenant, e.g. openstack."),
  }).optional().describe("Zuul builds this project: an edge's after_check names a Zuul pipeline (release) whose buildset for the tag must succeed."),
  vote: z.boolean().optional().describe("On changes: vote Verified +1/-1 besides the review message (default false: comment only)."),
}).superRefine((g, ctx) => {
  if ((g.user_env === undefined) !== (g.password_env === undefined)) {
    ctx.addIssue({ code: "custom", message: "name both user_env and password_env (HTTP credentials), or neither to read anonymously", path: [g.user_env === undefined ? "user_env" : "password_env"] });
  }
});

/** How an upstream is watched (polled for new tags): format v2. */
const Watch = z.strictObject({
  interval: Duration.optional().describe("How often its tags are read, e.g. 2m (default OPENCI_WATCH_INTERVAL_MS, 5 minutes; at least 10s)."),
});

const ProjectV2 = z.strictObject({
  id: Id.describe("A unique id, e.g. nova or kubernetes/kubernetes."),
  foundation: z.string().min(1).describe("The id of the project's foundation, from 'foundations'."),
  github: GithubRepo.optional().describe("Where it lives on GitHub: owner/repo."),
  gitlab: GitlabLocation.optional().describe("Where it lives on GitLab: group/project, or { host, project, token_env, webhook_secret_env }."),
  git: GitLocation.optional().describe("Any git host, read anonymously over smart HTTP: the address `git clone` takes, e.g. https://opendev.org/openstack/nova. Only an upstream: its tags are watched (polled); nothing is written there and no pipeline runs there."),
  gerrit: GerritLocation.optional().describe("A Gerrit server's project: { url, project, user_env, password_env, ssh, zuul, vote }. An upstream whose tags are watched (polled, and streamed where `ssh` is given); its pipelines can run on Jenkins (trigger: { jenkins })."),
  watch: Watch.optional().describe("Poll this upstream's tags (a git: or gerrit: upstream always is: there it only sets the interval), at its own interval or OPENCI_WATCH_INTERVAL_MS (`watch: {}`): for a GitHub repository the app is not installed on (public: read with the relay's own installation) or a GitLab project that sends no webhook. Nothing is written to a watched upstream: no checks, statuses or comments."),
  homepage: Url.optional().describe("The project's home page."),
  description: z.string().max(2000).optional().describe("One or two sentences on what it is."),
  contact: z.string().min(3).max(300).optional().describe("How to reach the maintainers: a mailing list, an address or a URL."),
  ci: z.enum(CI_SYSTEMS).optional().describe("The CI system the project runs."),
  artifacts: z.array(Purl).optional().describe("What it releases, as package URLs: pkg:pypi/nova, pkg:oci/nova-api@{tag}?repository_url=quay.io/kolla/nova-api. The version may be {tag} or {version} (the tag less a leading v); left out, it is the release's (the tag less a leading v for pypi, npm, maven; the tag for golang, oci, github). An edge's after_artifacts waits for them to be published."),
  visibility: z.enum(["private"], { error: "can only be 'private': the forge says whether a project is public, and the map can only make it more private" }).optional()
    .describe("'private': never shown on public surfaces (dashboard, API, events, CDEvents subscribers) nor on other owners' commits, whatever the forge says."),
  trigger: Trigger.extend({
    jenkins: JenkinsTrigger.optional().describe("Run this project's pipeline as a Jenkins job: { url, job, user_env, token_env }. The job receives the OPENCI_* build parameters it declares."),
  }).optional(),
  report: ProjectReport.optional(),
  depends_on: z.array(EdgeV2).optional(),
});

const Settings = z.strictObject({
  cascade_hop_limit: z.number().int().min(1).max(20).optional().describe("The longest cascade chain (downstream hops from the first upstream); default 5."),
});

export const MapV2 = z.strictObject({
  version: z.literal(2).describe("Format v2: foundations, project metadata, tag_regex/semver filters, on, cascade."),
  settings: Settings.optional(),
  foundations: z.array(Foundation).optional(),
  projects: z.array(ProjectV2).optional(),
  subscribers: z.array(SinkSpec).optional()
    .describe("Where the relay's events go (retried, then dead-lettered): HTTP endpoints (a signed CloudEvent per event), MQTT, NATS and AMQP brokers (a message per event), IRC, Matrix, Slack, Mattermost and Discord (a line per release for people)."),
});

export type MapV2 = z.infer<typeof MapV2>;
export type MapProjectV2 = z.infer<typeof ProjectV2>;
export type MapEdgeV2 = z.infer<typeof EdgeV2>;
export type MapFoundation = z.infer<typeof Foundation>;

/**
 * A downstream repository's own declaration (`.github/openci.yml`, `.gitlab/openci.yml`): "we
 * depend on these, trigger us like this". It speaks only for the repository it is in.
 */
export const Declaration = ProjectV2.omit({ github: true, gitlab: true, git: true, gerrit: true, watch: true }).extend({
  version: z.literal(2).optional().describe("Declarations use format v2's fields."),
  // A self-declared id is shown on upstreams' commits (check names are not neutralised: they are keys): plain characters only.
  id: Id.regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "must be letters, digits and . _ / - (it names checks on other projects' commits)").optional()
    .describe("This project's id in the map; default: its id there, else owner/repo."),
  foundation: z.string().min(1).optional(),
  // A declaration is anyone's text: it may name no secret (the reviewed map names a trigger token for it).
  trigger: Trigger.extend({
    token_env: z.never({ error: "a declaration may not name a secret: ask the relay's operators to name this pipeline trigger token in the reviewed map (trigger: { token_env }), and leave it out here" }).optional(),
  }).describe("How this repository's pipeline starts."),
  report: Report.optional().describe("How failures of this repository's own dependants are commented (consent to report declared downstreams is the reviewed map's to give)."),
  depends_on: z.array(EdgeV2).min(1, "declare at least one upstream").describe("The upstreams this repository depends on."),
});
export type Declaration = z.infer<typeof Declaration>;

/** Either format, told apart by `version` (absent or 1: v1). */
export const AnyMap = z.union([MapV1, MapV2]);
