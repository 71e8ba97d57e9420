// Where `yolo-launch doctor` gets its facts: this machine (production) or recorded outputs
// (tests). GPU facts come through the backend's FactSources (nvidia-smi, ldconfig, listings);
// backends through probe children; the rest through the small functions here.
import { spawn } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chooseAdvertiseAddress } from '@yolo-launch/comm';
import { machineSources, type FactSources } from '@yolo-launch/backend';
import { findPortOwner, listen } from '../ports.js';
import { parseProbeOutput, type ProbeOutcome, type ProbeSpec } from './protocol.js';

export interface SpaceFacts {
  /** bytes */
  total: number;
  free: number;
}

export interface NetworkFacts {
  masterAddr: string;
  masterPort: number;
  /** the interface and address workers would bind and advertise, or why there is none */
  advertise: { address: string; ifname: string; why: string } | { error: string };
  /** the master port on this machine: free, or who holds it */
  port: { free: true } | { free: false; holder: string };
  /** the OS's ephemeral range, where the ring sockets listen */
  ephemeralPorts: string | null;
}

export interface DoctorMachine {
  env: Record<string, string | undefined>;
  facts: FactSources;
  runProbe(spec: ProbeSpec): Promise<ProbeOutcome>;
  /** node and npm versions, OS, cores, memory */
  platform(): { node: string; npm: string | null; os: string; cpus: number; memoryBytes: number };
  space(path: string): SpaceFacts | null;
  network(masterAddr: string, masterPort: number, ifname: string | undefined): Promise<NetworkFacts>;
  cwd: string;
}

const PROBE_CHILD = fileURLToPath(new URL('./probe-child.js', import.meta.url));

function runProbe(spec: ProbeSpec): Promise<ProbeOutcome> {
  const args = [PROBE_CHILD, '--backend', spec.backend, '--device', spec.device, '--bench', spec.bench.join(',')];
  if (spec.package) args.push('--package', spec.package);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n(doctor: stopped after ${Math.round(spec.timeoutMs / 1000)} s)\n`;
      child.kill('SIGKILL');
    }, spec.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        report: parseProbeOutput(stdout),
        stderr,
        exitCode: code,
        wallMs: Math.round(performance.now() - started),
      });
    });
  });
}

async function portState(port: number): Promise<NetworkFacts['port']> {
  try {
    const server = await listen(port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return { free: true };
  } catch (error) {
    const owner = findPortOwner(port);
    return {
      free: false,
      holder: owner ? `pid ${owner.pid} (${owner.command})` : ((error as NodeJS.ErrnoException).code ?? 'unknown'),
    };
  }
}

async function network(masterAddr: string, masterPort: number, ifname: string | undefined): Promise<NetworkFacts> {
  let advertise: NetworkFacts['advertise'];
  try {
    advertise = await chooseAdvertiseAddress(masterAddr, masterPort, ifname);
  } catch (error) {
    advertise = { error: (error as Error).message };
  }
  let ephemeralPorts: string | null = null;
  try {
    ephemeralPorts = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).join('-');
  } catch {
    /* not Linux */
  }
  return { masterAddr, masterPort, advertise, port: await portState(masterPort), ephemeralPorts };
}

export function thisMachine(): DoctorMachine {
  return {
    env: process.env,
    facts: machineSources,
    runProbe,
    platform() {
      const npm = machineSources.run('npm', ['--version']);
      return {
        node: process.version,
        npm: npm.status === 0 ? npm.stdout.trim() : null,
        os: `${os.platform()} ${os.release()} ${os.arch()}`,
        cpus: os.availableParallelism(),
        memoryBytes: os.totalmem(),
      };
    },
    space(path) {
      try {
        const s = statfsSync(path);
        return { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
      } catch {
        return null;
      }
    },
    network,
    cwd: process.cwd(),
  };
}
