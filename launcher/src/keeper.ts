/**
 * The keeper: a tiny supervisor the launcher puts between itself and each worker, so that any
 * command (node, python, a shell script) is stopped when the launcher disappears.
 *
 *   node keeper.js <graceMs> <pollMs> -- <command> [args...]
 *
 * The launcher spawns the keeper detached (a new process group whose id is the keeper's pid)
 * with an IPC channel; the worker inherits the group and the keeper's stdout/stderr pipes.
 * - The launcher stops a worker with kill(-pgid): the signal reaches the worker and its
 *   children; the keeper ignores it and waits for the worker, then reports how it ended.
 * - The IPC channel closes when the launcher dies, even by SIGKILL. The keeper then sends
 *   SIGTERM to the group, SIGKILL after the grace period, and exits: no orphan survives.
 * - As a backstop it polls its parent pid every <pollMs> (re-parenting means the launcher died).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export interface KeeperReport {
  type: 'started' | 'exit' | 'spawn-error';
  pid?: number;
  code?: number | null;
  signal?: NodeJS.Signals | null;
  message?: string;
}

const [graceArg, pollArg, separator, command, ...args] = process.argv.slice(2);
if (separator !== '--' || command === undefined || !process.send) {
  process.stderr.write(
    'keeper: internal helper of yolo-launch; usage: keeper <graceMs> <pollMs> -- <command> [args...]\n',
  );
  process.exit(2);
}
const graceMs = Number(graceArg);
const pollMs = Math.max(50, Number(pollArg));
const launcherPid = process.ppid;

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
  process.on(sig, () => {
    /* meant for the worker, which shares our process group */
  });
}

const env = { ...process.env };
delete env.NODE_CHANNEL_FD;
delete env.NODE_CHANNEL_SERIALIZATION_MODE;

const child = spawn(command, args, { stdio: 'inherit', env });

function killGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-process.pid, signal);
  } catch {
    /* group already empty */
  }
}

let orphaned = false;
function onLauncherGone(): void {
  if (orphaned) return;
  orphaned = true;
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), graceMs).unref();
}
process.on('disconnect', onLauncherGone);
setInterval(() => {
  if (process.ppid !== launcherPid) onLauncherGone();
}, pollMs).unref();

function report(message: KeeperReport, then: () => void): void {
  if (!process.connected) return then();
  try {
    process.send!(message, undefined, {}, () => then());
  } catch {
    then();
  }
}

child.on('spawn', () => report({ type: 'started', pid: child.pid }, () => {}));
child.on('error', (err) => {
  report({ type: 'spawn-error', message: err.message }, () => process.exit(127));
});
child.on('exit', (code, signal) => {
  report({ type: 'exit', code, signal }, () => {
    // Whatever the worker left behind in its process group goes with it.
    killGroup('SIGTERM');
    if (orphaned) killGroup('SIGKILL');
    const signo = signal ? (constants.signals[signal] ?? 1) : 0;
    process.exit(code ?? 128 + signo);
  });
});
