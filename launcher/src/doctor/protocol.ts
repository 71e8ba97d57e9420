// What a probe child (probe-child.ts) reports to `yolo-launch doctor`: one stdout line,
// `PROBE_MARKER {json}`, among whatever else the backend prints.
import type { BenchName, BenchResult } from './benchmarks.js';

export const PROBE_MARKER = '@@yolo-launch-doctor-probe@@';

export interface ProbeReport {
  ok: boolean;
  /** the active tfjs backend and the package providing it */
  backend?: string;
  package?: string;
  gpu?: boolean;
  tfVersion?: string;
  /** ops checked against known values on this backend */
  verifiedOps?: string[];
  /** why it is not usable, one line each */
  reasons?: string[];
  benchmarks: BenchResult[];
}

/** What the doctor asks one probe child to do. */
export interface ProbeSpec {
  /** the row of the report: wasm, cpu, tensorflow, tensorflow-gpu (GPU n), or the selection a worker would make */
  label: string;
  backend: string;
  /** only this package may load (tensorflow means exactly tfjs-node or exactly tfjs-node-gpu) */
  package?: string;
  device: string;
  /** set for the child only (CUDA_VISIBLE_DEVICES for one GPU) */
  env: Record<string, string>;
  bench: BenchName[];
  timeoutMs: number;
}

export interface ProbeOutcome {
  /** null when the child printed no report (crashed, killed, timed out) */
  report: ProbeReport | null;
  /** everything it wrote to stderr: TensorFlow's log is there */
  stderr: string;
  exitCode: number | null;
  wallMs: number;
}

export function parseProbeOutput(stdout: string): ProbeReport | null {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(`${PROBE_MARKER} `));
  if (!line) return null;
  try {
    return JSON.parse(line.slice(PROBE_MARKER.length + 1)) as ProbeReport;
  } catch {
    return null;
  }
}
