// FactSources that answer from the outputs recorded in test/fixtures/gpu (see its README), so
// the GPU checks run here as they would on each kind of GPU server.
import { readFileSync } from 'node:fs';
import type { CommandResult, FactSources } from '../src/index.js';

export const FIXTURES = new URL('../../test/fixtures/gpu/', import.meta.url);

/** A recorded output without its '#' provenance lines: exactly what the tool printed. */
export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

export interface RecordedMachine {
  /** nvidia-smi answers, in call order (the last one repeats); omitted: nvidia-smi is not installed */
  smi?: { file: string; status?: number }[];
  /** `ldconfig -p` output file; omitted: ldconfig is missing */
  ldconfig?: string;
  /** directory listings */
  dirs?: Record<string, string[]>;
}

export function recordedSources(machine: RecordedMachine): FactSources & { calls: string[] } {
  const calls: string[] = [];
  let smiCall = 0;
  const missing: CommandResult = { status: null, stdout: '', stderr: '', error: 'ENOENT' };
  return {
    calls,
    run(command, args) {
      calls.push([command, ...args].join(' '));
      if (command === 'nvidia-smi') {
        if (!machine.smi) return missing;
        const answer = machine.smi[Math.min(smiCall++, machine.smi.length - 1)]!;
        const status = answer.status ?? 0;
        return { status, stdout: fixture(answer.file), stderr: '' };
      }
      if (command.endsWith('ldconfig'))
        return machine.ldconfig ? { status: 0, stdout: fixture(machine.ldconfig), stderr: '' } : missing;
      return missing;
    },
    listDir: (dir) => machine.dirs?.[dir] ?? [],
  };
}
