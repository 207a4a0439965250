import { performance } from "node:perf_hooks";
import { loadMap } from "../src/map/load.js";
for (let i = 0; i < 3; i++) { const t = performance.now(); loadMap("/tmp/bigmap.yml"); console.log((performance.now() - t).toFixed(0)); }
