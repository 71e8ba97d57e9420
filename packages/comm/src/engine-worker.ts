// Entry point of the engine thread (see engine.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.js';
import { serializeError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Command, EngineEvent } from './protocol.js';

const port = parentPort!;
const post = (e: EngineEvent): void => port.postMessage(e);
const engine = new Engine((workerData as { options: ResolvedOptions }).options, post);

port.on('message', (cmd: Command) => engine.submit(cmd));
// A bug in the engine must not leave a caller blocked in allReduceSync forever: fail the
// group (every pending and later call gets the error) instead of dying silently.
process.on('uncaughtException', (e) => engine.internalError(e));
// Once destroyed, let the thread end by itself (the port is its last handle).
void engine.whenDestroyed.promise.then(() => setImmediate(() => port.close()));
engine.start().then(
  (info) => post({ t: 'ready', info }),
  async (err: unknown) => {
    post({ t: 'init-failed', error: serializeError(err) });
    await engine.destroy();
  },
);
