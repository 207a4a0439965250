import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import yaml from "js-yaml";
const text = readFileSync("/tmp/bigmap.yml", "utf8");
const t = performance.now(); const d = yaml.load(text) as any; console.log("js-yaml", (performance.now() - t).toFixed(0), "ms", d.projects.length);
