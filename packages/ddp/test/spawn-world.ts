/**
 * Run N rank processes of a worker script over loopback with the real comm: a free port from
 * the OS, a random job token, every child killed on every path (timeout, failure, test end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const WORKERS_DIR = fileURLToPath(new URL('./workers/', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RankOutcome<R = unknown> {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  result: R | null;
}

const live = new Set<ChildProcess>();
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
}
process.on('exit', killAll);

export async function runWorld<R = unknown>(
  script: string,
  world: number,
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<RankOutcome<R>[]> {
  const port = await freePort();
  const token = randomBytes(12).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), 'ddp-test-'));
  const children: ChildProcess[] = [];
  try {
    const outcomes = await new Promise<RankOutcome<R>[]>((resolve, reject) => {
      const results: RankOutcome<R>[] = new Array(world);
      let done = 0;
      const timer = setTimeout(() => {
        for (const c of children) c.kill('SIGKILL');
        reject(
          new Error(
            `world ${world} of ${path.basename(script)} did not finish within ${timeoutMs} ms (a hang): ${JSON.stringify(results.map((r) => r?.stderr.slice(-400)))}`,
          ),
        );
      }, timeoutMs);
      for (let rank = 0; rank < world; rank++) {
        const out = path.join(dir, `rank${rank}.json`);
        const child = spawn(process.execPath, [path.join(WORKERS_DIR, script)], {
          env: {
            ...process.env,
            ...env,
            RANK: String(rank),
            LOCAL_RANK: String(rank),
            WORLD_SIZE: String(world),
            LOCAL_WORLD_SIZE: String(world),
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            YOLO_LAUNCH_TOKEN: token,
            DDP_TEST_OUT: out,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        children.push(child);
        live.add(child);
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => {
          stderr = (stderr + d.toString()).slice(-20_000);
        });
        child.on('error', reject);
        child.on('close', (code, signal) => {
          live.delete(child);
          const result = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as R) : null;
          results[rank] = { rank, code, signal, stderr, result };
          if (++done === world) {
            clearTimeout(timer);
            resolve(results);
          }
        });
      }
    });
    return outcomes;
  } finally {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      live.delete(c);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
