// Whether the `tensorflow` backend (tfjs-node) works in this installation, asked in a child
// process: loading TensorFlow is process-wide and irreversible (threads, oneDNN, ~1 GB of
// libraries), so a test process that runs on wasm must not load it just to ask.
import { spawnSync } from 'node:child_process';

export interface TensorflowProbe {
  available: boolean;
  /** 'tfjs-node 4.22.0 on TensorFlow 2.21.0', or why the backend cannot be used */
  detail: string;
}

const CHILD = `
  const backend = await import(process.argv[1]);
  const quiet = { info() {}, warn() {} };
  try {
    const tf = await backend.initBackend({ backend: 'tensorflow', logger: quiet });
    const binding = tf.backend().binding;
    console.log(JSON.stringify({ available: true, detail: backend.backendChoice().package + ' on TensorFlow ' + binding.TF_Version }));
  } catch (error) {
    console.log(JSON.stringify({ available: false, detail: String(error.message).replace(/\\s*\\n\\s*/g, ' ') }));
  }`;

/** Spawns `node` to initialise the tensorflow backend; never throws. */
export function probeTensorflowBackend(): TensorflowProbe {
  const entry = new URL('./index.js', import.meta.url).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, entry], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    timeout: 120_000,
  });
  const line = child.stdout?.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as TensorflowProbe;
  } catch {
    return {
      available: false,
      detail: `the probe process failed (${child.error?.message ?? `exit ${child.status}`}): ${child.stderr?.slice(-300)}`,
    };
  }
}
