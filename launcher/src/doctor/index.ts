// `yolo-launch doctor [--json] [--backend auto|tensorflow|wasm|cpu] [--device cpu|gpu] [--no-bench]`:
// whether this machine can run a job, and how fast. Exit 0 when the requested setup can run,
// 1 with the reasons when it cannot, 2 on a usage error.
import { parseArgs } from 'node:util';
import { BACKEND_NAMES } from '@yolo-launch/backend';
import { UsageError } from '../errors.js';
import { diagnose, type DoctorRequest, type DoctorReport } from './diagnose.js';
import { formatJson, formatText } from './format.js';
import { thisMachine, type DoctorMachine } from './machine.js';
import { judge, type Verdict } from './verdict.js';

export interface DoctorOptions extends DoctorRequest {
  json: boolean;
}

export const DOCTOR_USAGE =
  'yolo-launch doctor [--json] [--backend auto|tensorflow|wasm|cpu] [--device cpu|gpu] [--no-bench]';

export function parseDoctorArgs(argv: readonly string[], env: Record<string, string | undefined>): DoctorOptions {
  let values: { json?: boolean; backend?: string; device?: string; 'no-bench'?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        backend: { type: 'string' },
        device: { type: 'string' },
        'no-bench': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`doctor: ${(error as Error).message}; usage: ${DOCTOR_USAGE}`);
  }
  const backend = (values.backend ?? env.YOLO_BACKEND ?? 'auto').toLowerCase();
  if (!(BACKEND_NAMES as readonly string[]).includes(backend))
    throw new UsageError(`doctor: --backend ${backend} is not a backend; use one of ${BACKEND_NAMES.join(', ')}`);
  const device = (values.device ?? '').toLowerCase();
  if (device !== '' && device !== 'cpu' && device !== 'gpu')
    throw new UsageError(`doctor: --device ${device}: use cpu or gpu`);
  if (device === 'gpu' && (backend === 'wasm' || backend === 'cpu'))
    throw new UsageError(
      `doctor: --backend ${backend} cannot use a GPU; use --backend tensorflow or auto with --device gpu`,
    );
  return { json: values.json === true, backend, device, bench: values['no-bench'] !== true };
}

export async function runDoctor(
  options: DoctorOptions,
  machine: DoctorMachine = thisMachine(),
): Promise<{ report: DoctorReport; verdict: Verdict; exitCode: number }> {
  const progress = options.json ? () => {} : (line: string) => process.stderr.write(`doctor: ${line}\n`);
  const report = await diagnose(machine, options, progress);
  const verdict = judge(report);
  process.stdout.write(options.json ? formatJson(report, verdict) : formatText(report, verdict));
  return { report, verdict, exitCode: verdict.ok ? 0 : 1 };
}

export {
  diagnose,
  judge,
  formatText,
  formatJson,
  type DoctorReport,
  type Verdict,
  type DoctorMachine,
  type DoctorRequest,
};
