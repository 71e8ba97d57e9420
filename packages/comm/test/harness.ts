// Spawns the ranks of a test job as real processes on loopback and collects what each one
// printed. Every child is killed on every path (kill()), ports come from the OS.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../src/index.js';

export const RANK_SCRIPT = fileURLToPath(new URL('./workers/rank.js', import.meta.url));

export interface RankOutcome {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  result?: Record<string, unknown>;
  error?: { message: string; code?: string; peerRank?: number };
  stderr: string;
  /** When the RESULT/ERROR line arrived (Date.now()). */
  reportedAt?: number;
}

export interface JobSpec {
  worldSize: number;
  scenario: string;
  args?: string[];
  /** Extra environment for every rank, or per rank (index = position in `ranks`). */
  env?: Record<string, string>;
  perRankEnv?: (i: number) => Record<string, string>;
  /** RANK values to start (default 0..worldSize-1); lets tests start duplicates or leave gaps. */
  ranks?: number[];
  port?: number;
  timeoutMs?: number;
}

export interface Job {
  port: number;
  procs: ChildProcess[];
  outcomes: Promise<RankOutcome[]>;
  /** Resolves when rank index i printed a line equal to `line`. */
  waitForLine(i: number, line: string): Promise<void>;
  kill(): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export async function startJob(spec: JobSpec): Promise<Job> {
  const port = spec.port ?? (await getFreePort());
  const ranks = spec.ranks ?? Array.from({ length: spec.worldSize }, (_, r) => r);
  const lineWaiters: { i: number; line: string; resolve: () => void }[] = [];
  const seen: Set<string>[] = ranks.map(() => new Set());
  const procs = ranks.map((rank, i) => {
    const p = spawn(process.execPath, [RANK_SCRIPT, spec.scenario, ...(spec.args ?? [])], {
      env: {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(spec.worldSize),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        YOLO_LAUNCH_TOKEN: 'test-token',
        TEST_QUIET: '1',
        ...spec.env,
        ...spec.perRankEnv?.(i),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(p);
    p.on('exit', () => live.delete(p));
    return p;
  });
  const timeoutMs = spec.timeoutMs ?? 60_000;
  const outcomes = Promise.all(
    procs.map(
      (p, i) =>
        new Promise<RankOutcome>((resolve) => {
          const o: RankOutcome = { rank: ranks[i]!, code: null, signal: null, stderr: '' };
          let buf = '';
          p.stdout!.on('data', (d: Buffer) => {
            buf += d.toString();
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              seen[i]!.add(line);
              for (const w of lineWaiters.filter((w) => w.i === i && w.line === line)) w.resolve();
              if (line.startsWith('RESULT ')) {
                o.result = JSON.parse(line.slice(7)) as Record<string, unknown>;
                o.reportedAt = Date.now();
              } else if (line.startsWith('ERROR ')) {
                o.error = JSON.parse(line.slice(6)) as RankOutcome['error'];
                o.reportedAt = Date.now();
              }
            }
          });
          p.stderr!.on('data', (d: Buffer) => (o.stderr += d.toString()));
          const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
          p.on('exit', (code, signal) => {
            clearTimeout(timer);
            o.code = code;
            o.signal = signal;
            resolve(o);
          });
        }),
    ),
  );
  return {
    port,
    procs,
    outcomes,
    waitForLine: (i, line) =>
      seen[i]!.has(line)
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            lineWaiters.push({ i, line, resolve });
          }),
    kill: () => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    },
  };
}

/** Runs a job to the end, always killing leftovers. */
export async function runJob(spec: JobSpec): Promise<RankOutcome[]> {
  const job = await startJob(spec);
  try {
    return await job.outcomes;
  } finally {
    job.kill();
  }
}

export function describeFailures(outs: RankOutcome[]): string {
  return outs
    .filter((o) => o.code !== 0 || !o.result)
    .map((o) => `rank ${o.rank}: exit ${o.code ?? o.signal} ${JSON.stringify(o.error)}\n${o.stderr.slice(-2000)}`)
    .join('\n');
}
