// Every external fact the GPU checks read comes through this one small interface, so that the
// tests drive them with outputs recorded on real machines (nvidia-smi, ldconfig -p, directory
// listings) and production reads the machine.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

export interface CommandResult {
  /** null when the command could not be started (not installed) or timed out */
  status: number | null;
  stdout: string;
  stderr: string;
  /** why it did not run: 'ENOENT' (not installed), 'ETIMEDOUT', ... */
  error?: string;
}

export interface FactSources {
  /** Runs a command without a shell. */
  run(command: string, args: readonly string[]): CommandResult;
  /** File names in a directory, [] when it does not exist or cannot be read. */
  listDir(dir: string): string[];
}

const COMMAND_TIMEOUT_MS = 10_000;

export const machineSources: FactSources = {
  run(command, args) {
    const result = spawnSync(command, [...args], {
      encoding: 'utf8',
      timeout: COMMAND_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const error = (result.error as NodeJS.ErrnoException | undefined)?.code;
    return {
      status: result.status,
      stdout: result.stdout ?? '',
      stderr: result.stderr ?? '',
      ...(error ? { error } : {}),
    };
  },
  listDir(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};

/** First line of a command's complaint, for messages. */
export function firstLine(result: CommandResult): string {
  const text = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  return text ?? (result.error ? result.error : `exit code ${String(result.status)}`);
}
