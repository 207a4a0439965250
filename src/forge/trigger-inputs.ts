import type { UpstreamContext } from "./roles.js";

/**
 * What a downstream pipeline receives about its upstream: workflow_dispatch inputs on GitHub
 * Actions, client_payload of a repository_dispatch, pipeline variables on GitLab (upper-cased).
 * `openci_artifacts` only along an `after_artifacts` edge: GitHub refuses a dispatch with an input the
 * workflow does not declare, so a downstream that does not wait for artifacts never receives it.
 */
export function triggerInputs(ctx: UpstreamContext): Record<string, string> {
  return {
    openci_upstream: ctx.upstreamId,
    openci_upstream_repo: ctx.upstreamRepo,
    openci_tag: ctx.tag,
    openci_sha: ctx.sha,
    openci_run_id: ctx.runId,
    ...(ctx.artifacts ? { openci_artifacts: artifactsJson(ctx.artifacts) } : {}),
  };
}

/** The release's artifacts as one JSON string: `[{"purl", "digests": [{"name"?, "digest", "cid"?}]}]`. */
export function artifactsJson(artifacts: NonNullable<UpstreamContext["artifacts"]>): string {
  return JSON.stringify(artifacts.map((a) => ({ purl: a.purl, digests: a.digests })));
}

/** The YAML a downstream workflow needs to accept the inputs above, for error messages and docs. */
export function workflowInputsYaml(names: string[]): string {
  return [
    "on:",
    "  workflow_dispatch:",
    "    inputs:",
    ...names.flatMap((n) => [`      ${n}:`, "        type: string", "        required: false"]),
  ].join("\n");
}

/** GitLab pipeline variables: the same facts, under the names GitLab CI users expect. */
export function gitlabVariables(ctx: UpstreamContext): { key: string; value: string }[] {
  const inputs = triggerInputs(ctx);
  return [
    { key: "OPENCI_UPSTREAM", value: inputs.openci_upstream! },
    { key: "OPENCI_UPSTREAM_REPO", value: inputs.openci_upstream_repo! },
    { key: "OPENCI_TAG", value: inputs.openci_tag! },
    { key: "OPENCI_SHA", value: inputs.openci_sha! },
    { key: "OPENCI_RUN", value: inputs.openci_run_id! },
    ...(inputs.openci_artifacts !== undefined ? [{ key: "OPENCI_ARTIFACTS", value: inputs.openci_artifacts }] : []),
  ];
}
