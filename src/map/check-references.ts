import type { MapV1 } from "./schema.js";

export interface MapProblem {
  path: (string | number)[];
  message: string;
}

/** Rules a schema cannot express: ids, references, and what each kind of project needs. */
export function checkReferences(map: MapV1): MapProblem[] {
  const problems: MapProblem[] = [];
  const firstIndex = new Map<string, number>();
  map.projects.forEach((p, i) => {
    const seen = firstIndex.get(p.id);
    if (seen === undefined) firstIndex.set(p.id, i);
    else problems.push({ path: ["projects", i, "id"], message: `duplicate id '${p.id}' (first used by projects[${seen}])` });
  });

  map.projects.forEach((p, i) => {
    const at = (...rest: (string | number)[]) => ["projects", i, ...rest];
    if ((p.github === undefined) === (p.gitlab === undefined)) {
      problems.push({ path: at(), message: `project '${p.id}' needs exactly one of 'github: owner/repo' or 'gitlab: group/project'` });
    }
    const edges = p.depends_on ?? [];
    if (edges.length > 0) problems.push(...checkTrigger(p, at));

    const upstreams = new Set<string>();
    edges.forEach((edge, j) => {
      if (!firstIndex.has(edge.project)) {
        problems.push({
          path: at("depends_on", j, "project"),
          message: `unknown project '${edge.project}': add it to 'projects' or fix the id`,
        });
      } else if (edge.project === p.id) {
        problems.push({ path: at("depends_on", j, "project"), message: `project '${p.id}' cannot depend on itself` });
      }
      if (upstreams.has(edge.project)) {
        problems.push({
          path: at("depends_on", j, "project"),
          message: `'${edge.project}' is listed twice: use one entry per upstream`,
        });
      }
      upstreams.add(edge.project);
    });
  });
  return problems;
}

function checkTrigger(
  p: MapV1["projects"][number],
  at: (...rest: (string | number)[]) => (string | number)[],
): MapProblem[] {
  const t = p.trigger;
  if (t === undefined) {
    return [{ path: at(), message: `project '${p.id}' has depends_on but no 'trigger' saying how its pipeline starts` }];
  }
  if (p.gitlab !== undefined) {
    if (t.workflow !== undefined || t.event_type !== undefined) {
      return [{ path: at("trigger"), message: "a GitLab project is triggered by 'ref' only; 'workflow' and 'event_type' are for GitHub" }];
    }
    return t.ref === undefined ? [{ path: at("trigger"), message: "a GitLab trigger needs 'ref', the branch to run the pipeline on" }] : [];
  }
  if (t.token_env !== undefined) {
    return [{ path: at("trigger", "token_env"), message: "'token_env' names a GitLab pipeline trigger token; a GitHub project is triggered through the app" }];
  }
  if ((t.workflow === undefined) === (t.event_type === undefined)) {
    return [{
      path: at("trigger"),
      message: "a GitHub trigger needs exactly one of 'workflow: <file>.yml' (workflow_dispatch) or 'event_type: <name>' (repository_dispatch)",
    }];
  }
  if (t.workflow !== undefined && t.ref === undefined) {
    return [{ path: at("trigger"), message: "a workflow trigger needs 'ref', the branch the workflow runs on (e.g. main)" }];
  }
  return [];
}
