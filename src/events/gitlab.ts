import { z } from "zod";
import { RUN_FROM_GITLAB, GITLAB_PIPELINE_STATUSES } from "../forge/gitlab-status.js";
import { parsePayload } from "./parse-payload.js";
import type { RunEvent } from "./run-event.js";

/** GitLab writes "2016-08-12 15:23:28 UTC"; the relay keeps ISO 8601. */
const GitlabTime = z.string().transform((t) => {
  const iso = t.replace(/ UTC$/, "Z").replace(" ", "T");
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
});

const PipelineHook = z.object({
  object_kind: z.literal("pipeline"),
  object_attributes: z.object({
    id: z.number().int().positive(),
    status: z.enum(GITLAB_PIPELINE_STATUSES),
    url: z.string().optional(),
    created_at: GitlabTime.nullable().optional(),
    finished_at: GitlabTime.nullable().optional(),
  }),
  project: z.object({ path_with_namespace: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/), web_url: z.string() }),
});

/** `Pipeline Hook` from a downstream GitLab project → RunEvent; other events → null. */
export function normaliseGitlabPipeline(event: string, body: unknown, deliveryId: string): RunEvent | null {
  if (event !== "Pipeline Hook") return null;
  const { object_attributes: p, project } = parsePayload(PipelineHook, body, "Pipeline Hook");
  const mapped = RUN_FROM_GITLAB[p.status];
  return {
    forge: "gitlab",
    source: "pipeline_hook",
    repo: project.path_with_namespace,
    runId: String(p.id),
    title: "",
    state: mapped.state,
    conclusion: mapped.conclusion,
    webUrl: p.url ?? `${project.web_url}/-/pipelines/${p.id}`,
    startedAt: p.created_at ?? undefined,
    updatedAt: p.finished_at ?? undefined,
    deliveryId,
  };
}
