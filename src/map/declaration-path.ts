/** Where a downstream repository declares its own upstreams ("we depend on X, trigger us like this"). */
export const DECLARATION_PATH = { github: ".github/openci.yml", gitlab: ".gitlab/openci.yml" } as const;
