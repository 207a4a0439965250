export interface BenchOptions {
  /** BENCH_QUICK=1: seconds, not minutes; checks the harness, figures mean nothing */
  quick: boolean;
  /** BENCH_CPU_PROF=1: every process runs with --cpu-prof, its profile written here on exit */
  cpuProfDir?: string | undefined;
}
