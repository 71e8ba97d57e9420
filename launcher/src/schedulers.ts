/**
 * Rank derivation when a cluster scheduler already placed us: Slurm (`srun`), Open MPI
 * (`mpirun`) and Kubernetes Indexed Jobs. Two shapes exist:
 *
 * - task: the scheduler started one process per rank (srun --ntasks-per-node=4, mpirun -np 8):
 *   this launcher runs exactly one worker with the scheduler's rank.
 * - node: the scheduler started one launcher per node (srun --ntasks-per-node=1 with --nproc,
 *   an Indexed Job pod): this launcher runs --nproc workers as node NODE_RANK.
 */
import { createHash } from 'node:crypto';
import { UsageError } from './errors.js';

export type SchedulerName = 'slurm' | 'openmpi' | 'kubernetes';

export interface TaskPlacement {
  kind: 'task';
  scheduler: SchedulerName;
  rank: number;
  localRank: number;
  worldSize: number;
  localWorldSize: number;
  nodeRank: number;
  nnodes: number;
  masterAddr?: string;
  /** Stable id of the scheduler's job: every rank computes the same one. */
  jobKey?: string;
}

export interface NodePlacement {
  kind: 'node';
  scheduler: SchedulerName;
  nodeRank: number;
  nnodes: number;
  masterAddr?: string;
  jobKey?: string;
}

export type SchedulerPlacement = TaskPlacement | NodePlacement;

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${name}=${value} is not a non-negative integer`);
  return Number(value);
}

/**
 * Expands a Slurm hostlist: `gpu[01-03,07],login` → gpu01 gpu02 gpu03 gpu07 login.
 * Zero padding of ranges is kept, several bracket groups in one name multiply out.
 */
export function expandSlurmHostlist(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      if (current.trim()) items.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) items.push(current.trim());
  const expand = (pattern: string): string[] => {
    const open = pattern.indexOf('[');
    if (open < 0) return [pattern];
    const close = pattern.indexOf(']', open);
    if (close < 0) throw new UsageError(`malformed Slurm hostlist "${list}"`);
    const head = pattern.slice(0, open);
    const tails = expand(pattern.slice(close + 1));
    const out: string[] = [];
    for (const range of pattern.slice(open + 1, close).split(',')) {
      const [from, to] = range.split('-');
      if (from === undefined || !/^\d+$/.test(from) || (to !== undefined && !/^\d+$/.test(to))) {
        throw new UsageError(`malformed Slurm hostlist "${list}"`);
      }
      const width = from.length;
      for (let n = Number(from); n <= Number(to ?? from); n++) {
        for (const tail of tails) out.push(head + String(n).padStart(width, '0') + tail);
      }
    }
    return out;
  };
  return items.flatMap(expand);
}

/** SLURM_TASKS_PER_NODE `4(x2),2` → [4, 4, 2]. */
export function expandSlurmTasksPerNode(value: string): number[] {
  return value.split(',').flatMap((part) => {
    const match = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!match) throw new UsageError(`malformed SLURM_TASKS_PER_NODE "${value}"`);
    return new Array<number>(Number(match[2] ?? 1)).fill(Number(match[1]));
  });
}

/**
 * Reads the scheduler's variables. `nprocGiven` says whether the user passed --nproc: one
 * scheduler task per node plus --nproc means "node" placement, otherwise "task" placement.
 * `nnodesGiven` is --nnodes, which Kubernetes Indexed Jobs need (they only expose an index).
 */
export function detectScheduler(
  env: NodeJS.ProcessEnv,
  nprocGiven: boolean,
  nnodesGiven?: number,
): SchedulerPlacement | null {
  const slurmRank = int(env, 'SLURM_PROCID');
  const slurmTasks = int(env, 'SLURM_NTASKS');
  if (slurmRank !== undefined && slurmTasks !== undefined && env.SLURM_LOCALID !== undefined) {
    const nodeRank = int(env, 'SLURM_NODEID') ?? 0;
    const nodelist = env.SLURM_JOB_NODELIST ?? env.SLURM_STEP_NODELIST ?? env.SLURM_NODELIST;
    const hosts = nodelist ? expandSlurmHostlist(nodelist) : [];
    const nnodes = int(env, 'SLURM_STEP_NUM_NODES') ?? int(env, 'SLURM_NNODES') ?? Math.max(1, hosts.length);
    const perNode = env.SLURM_STEP_TASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE;
    const localWorldSize = perNode
      ? (expandSlurmTasksPerNode(perNode)[nodeRank] ?? Math.ceil(slurmTasks / nnodes))
      : Math.ceil(slurmTasks / nnodes);
    const jobKey = env.SLURM_JOB_ID
      ? `slurm:${env.SLURM_JOB_ID}.${env.SLURM_STEP_ID ?? env.SLURM_STEPID ?? ''}`
      : undefined;
    const masterAddr = hosts[0];
    if (localWorldSize === 1 && slurmTasks === nnodes && nprocGiven) {
      return { kind: 'node', scheduler: 'slurm', nodeRank, nnodes, masterAddr, jobKey };
    }
    return {
      kind: 'task',
      scheduler: 'slurm',
      rank: slurmRank,
      localRank: int(env, 'SLURM_LOCALID') ?? 0,
      worldSize: slurmTasks,
      localWorldSize,
      nodeRank,
      nnodes,
      masterAddr,
      jobKey,
    };
  }

  const mpiRank = int(env, 'OMPI_COMM_WORLD_RANK');
  const mpiSize = int(env, 'OMPI_COMM_WORLD_SIZE');
  if (mpiRank !== undefined && mpiSize !== undefined) {
    const localRank = int(env, 'OMPI_COMM_WORLD_LOCAL_RANK') ?? 0;
    const localSize = int(env, 'OMPI_COMM_WORLD_LOCAL_SIZE') ?? mpiSize;
    // Open MPI has no node index; with the default by-slot mapping ranks fill nodes in order.
    const nodeRank = Math.floor(mpiRank / localSize);
    const nnodes = Math.ceil(mpiSize / localSize);
    const ns = env.PMIX_NAMESPACE ?? env.OMPI_MCA_ess_base_jobid;
    const jobKey = ns ? `openmpi:${ns}` : undefined;
    const masterAddr = nnodes === 1 ? '127.0.0.1' : undefined;
    if (localSize === 1 && nprocGiven && nnodes > 1) {
      return { kind: 'node', scheduler: 'openmpi', nodeRank: mpiRank, nnodes: mpiSize, masterAddr, jobKey };
    }
    return {
      kind: 'task',
      scheduler: 'openmpi',
      rank: mpiRank,
      localRank,
      worldSize: mpiSize,
      localWorldSize: localSize,
      nodeRank,
      nnodes,
      masterAddr,
      jobKey,
    };
  }

  const index = int(env, 'JOB_COMPLETION_INDEX');
  if (index !== undefined) {
    if (nnodesGiven === undefined) {
      if (index === 0) return null; // a one-pod job: nothing to derive
      throw new UsageError(`JOB_COMPLETION_INDEX=${index} (Kubernetes Indexed Job) needs --nnodes, the number of pods`);
    }
    if (index >= nnodesGiven) {
      throw new UsageError(`JOB_COMPLETION_INDEX=${index} is not below --nnodes ${nnodesGiven}`);
    }
    return { kind: 'node', scheduler: 'kubernetes', nodeRank: index, nnodes: nnodesGiven };
  }
  return null;
}

/**
 * A rendezvous token every rank can compute on its own when the scheduler started the ranks
 * separately and YOLO_LAUNCH_TOKEN was not exported. It guards against crossed jobs, not
 * against attackers: set YOLO_LAUNCH_TOKEN for a real secret.
 */
export function derivedToken(key: string): string {
  return createHash('sha256').update(`yolo-launch:${key}`).digest('hex').slice(0, 32);
}
