import type { UpstreamContext } from "./roles.js";

/**
 * What a downstream pipeline receives about its upstream: workflow_dispatch inputs on GitHub
 * Actions, client_payload of a repository_dispatch, pipeline variables on GitLab (upper-cased).
 */
export function triggerInputs(ctx: UpstreamContext): Record<string, string> {
  return {
    openci_upstream: ctx.upstreamId,
    openci_upstream_repo: ctx.upstreamRepo,
    openci_tag: ctx.tag,
    openci_sha: ctx.sha,
    openci_run_id: ctx.runId,
  };
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
  ];
}
