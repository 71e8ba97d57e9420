// Where one rank's CPU goes, from /proc (Linux): CPU time per thread, page faults and context
// switches of the whole process. bench-rank.ts takes a sample before and after each size when
// BENCH_THREADS is set and prints the difference per call on stderr.
import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
const TICKS_PER_S = 100;

interface ThreadTime {
  name: string;
  cpuTicks: number;
}

export interface ProcSample {
  threads: Map<string, ThreadTime>;
  minorFaults: number;
  majorFaults: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
}

/** Fields of a /proc stat line after the command name (field 3 of proc(5) is index 0). */
function statFields(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function statusCount(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

export function sampleProc(): ProcSample {
  const threads = new Map<string, ThreadTime>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      // The main thread is named after the executable, like the engine's worker thread.
      const comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const name = tid === String(process.pid) ? 'main' : comm;
      const f = statFields(`/proc/self/task/${tid}/stat`);
      threads.set(tid, { name, cpuTicks: Number(f[11]) + Number(f[12]) });
    } catch {
      /* the thread ended between readdir and read */
    }
  }
  const self = statFields('/proc/self/stat');
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return {
    threads,
    minorFaults: Number(self[7]),
    majorFaults: Number(self[9]),
    voluntarySwitches: statusCount(status, 'voluntary_ctxt_switches'),
    involuntarySwitches: statusCount(status, 'nonvoluntary_ctxt_switches'),
  };
}

/** One line: CPU ms per call of each busy thread (by name), faults and switches per call. */
export function describeDelta(before: ProcSample, after: ProcSample, calls: number): string {
  const byName = new Map<string, number>();
  for (const [tid, t] of after.threads) {
    const ticks = t.cpuTicks - (before.threads.get(tid)?.cpuTicks ?? 0);
    byName.set(t.name, (byName.get(t.name) ?? 0) + ticks);
  }
  const perCall = (x: number): string => (x / calls).toFixed(1);
  const cpu = [...byName]
    .filter(([, ticks]) => ticks > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ticks]) => `${name} ${perCall((ticks * 1000) / TICKS_PER_S)}`)
    .join(', ');
  return (
    `cpu ms/call by thread: ${cpu}; minflt/call ${perCall(after.minorFaults - before.minorFaults)}, ` +
    `majflt/call ${perCall(after.majorFaults - before.majorFaults)}, ` +
    `ctxsw/call ${perCall(after.voluntarySwitches - before.voluntarySwitches)} voluntary + ` +
    `${perCall(after.involuntarySwitches - before.involuntarySwitches)} involuntary`
  );
}
