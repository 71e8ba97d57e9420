/**
 * YOLOv5 v7.0's loader as the same-run anchor of the data benchmark: a Python process running
 * our driver (yolov5_loader.py), which imports YOLOv5 from $YOLOV5_DIR and times its
 * create_dataloader on a temporary copy of the dataset (YOLOv5 writes labels/<split>.cache
 * beside the labels; the dataset we were given may be read-only).
 *
 * The process is started once and answers one JSON line per request on stdin, so each of our
 * measurements can be followed at once by YOLOv5's for the same configuration.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ReferenceRun {
  pipeline: 'mosaic' | 'letterbox';
  imgsz: number;
  batch: number;
  workers: number;
}

export interface ReferenceTiming {
  images: number;
  seconds: number;
  cpuSeconds: number;
}

/** cProfile's split of one sample's time in YOLOv5 (one process), ms per image by stage. */
export interface ReferenceProfile {
  pipeline: string;
  imgsz: number;
  images: number;
  msPerImage: Record<string, number>;
}

const DRIVER = fileURLToPath(new URL('../../bench/yolov5_loader.py', import.meta.url));

/** Why no reference can run here, or null when YOLOV5_DIR and its Python are usable. */
export function referenceUnavailable(env = process.env): string | null {
  const dir = env.YOLOV5_DIR;
  if (!dir) return 'YOLOV5_DIR is not set (a YOLOv5 v7.0 checkout; see the README)';
  if (!fs.existsSync(path.join(dir, 'utils', 'dataloaders.py')))
    return `YOLOV5_DIR=${dir} has no utils/dataloaders.py (expected a YOLOv5 v7.0 checkout)`;
  const python = pythonFor(env);
  const probe = spawnSync(python, ['-c', 'import torch, cv2, numpy, yaml'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return `${python} cannot import torch, cv2, numpy and yaml (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}); set YOLOV5_PYTHON`;
  return null;
}

function pythonFor(env: NodeJS.ProcessEnv): string {
  // Debian's python3 has python3-torch and python3-opencv; a pyenv python3 on PATH usually not
  return env.YOLOV5_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

export class Yolov5Reference {
  private readonly lines: AsyncIterator<string>;
  private readonly stderrTail: string[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly copyDir: string,
  ) {
    this.lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail.push(s);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
    });
  }

  /**
   * Copies the dataset root to a temporary folder and starts the driver on the copy of
   * `imagesDir` (a folder or .txt list inside `datasetRoot`).
   */
  static start(datasetRoot: string, imagesDir: string, env = process.env): Yolov5Reference {
    const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-bench-yolov5-'));
    const root = path.join(copyDir, path.basename(datasetRoot));
    fs.cpSync(datasetRoot, root, { recursive: true, filter: (src) => !/\.(cache|yl\.cache\.json|npy)$/.test(src) });
    chmodWritable(root);
    const images = path.join(root, path.relative(datasetRoot, imagesDir));
    const child = spawn(pythonFor(env), [DRIVER, '--yolov5', env.YOLOV5_DIR!, '--images', images], {
      cwd: copyDir,
      env: { ...env, PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Yolov5Reference(child, copyDir);
  }

  private async request<T>(req: object): Promise<T> {
    this.child.stdin.write(JSON.stringify(req) + '\n');
    const next = await this.lines.next();
    if (next.done)
      throw new Error(
        `the YOLOv5 driver exited (code ${this.child.exitCode}): ${this.stderrTail.join('').slice(-2000)}`,
      );
    return JSON.parse(next.value) as T;
  }

  time(run: ReferenceRun, epochs: number, warmupImages: number): Promise<ReferenceTiming> {
    return this.request({ type: 'time', run, epochs, warmupImages });
  }

  profile(run: ReferenceRun, images: number): Promise<ReferenceProfile> {
    return this.request({ type: 'profile', run, images });
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.copyDir, { recursive: true, force: true });
  }
}

/** The copy of a read-only dataset is read-only too: YOLOv5 must be able to write its cache. */
function chmodWritable(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chmodWritable(p);
    else fs.chmodSync(p, 0o644);
  }
}
