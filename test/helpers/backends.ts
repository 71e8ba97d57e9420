// The backends the cross-package tests train on: wasm always, tensorflow (tfjs-node) where
// `npm run setup:tensorflow` (or a normal install) made it usable; otherwise its tests are
// skipped with the reason, printed once per file.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './run.js';

export interface BackendUnderTest {
  backend: 'wasm' | 'tensorflow';
  /** false, or why this backend's tests are skipped */
  skip: false | string;
}

interface BackendProbeModule {
  probeTensorflowBackend(): { available: boolean; detail: string };
}

export async function backendsUnderTest(): Promise<BackendUnderTest[]> {
  // By path: the probe is the backend package's (the test package does not depend on it).
  const entry = pathToFileURL(path.join(REPO_ROOT, 'packages', 'backend', 'dist', 'src', 'index.js')).href;
  const { probeTensorflowBackend } = (await import(entry)) as BackendProbeModule;
  const probe = probeTensorflowBackend();
  const skip = probe.available
    ? false
    : `tfjs-node is not usable (run \`npm run setup:tensorflow\`): ${probe.detail.split('\n')[0]}`;
  console.log(
    probe.available ? `tensorflow backend tests: RUN on ${probe.detail}` : `tensorflow backend tests: SKIPPED: ${skip}`,
  );
  return [
    { backend: 'wasm', skip: false },
    { backend: 'tensorflow', skip },
  ];
}
