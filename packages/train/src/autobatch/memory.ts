// The memory AutoBatch sizes a batch against, per backend:
// - tfjs-node-gpu: the GPU's memory (nvidia-smi), less what other processes use on it;
// - wasm: the 4 GiB heap of this process (wasm32), but never more than this rank's share of
//   the free RAM (every rank on a node has its own heap in the same RAM);
// - cpu / tfjs-node on the CPU: the process's RSS plus this rank's share of the free RAM.
// Tensor bytes are what a probe measures (tf.profile); `fixedBytes` adds what the process
// holds outside tensors (RSS or GPU context beyond them) so that samples are whole-process.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';

export const GIB = 2 ** 30;
/** wasm32's address space: the most a tfjs-wasm heap can grow to. */
export const WASM_HEAP_LIMIT = 4 * GIB;

export interface DeviceMemory {
  /** printed name, e.g. `CUDA:0 (NVIDIA H200)`, `wasm heap`, `CPU RAM` */
  name: string;
  /** the device's size as printed (`t` in YOLOv5's line) */
  totalBytes: number;
  /** what this rank may hold at its peak, its own current memory included */
  availableBytes: number;
  /** what this rank holds now */
  ownBytes: number;
  /** bytes of this rank that tensor accounting does not see, added to each probe's tensor peak */
  fixedBytes: number;
}

export interface MemInfo {
  totalBytes: number;
  availableBytes: number;
}

/** MemTotal and MemAvailable of /proc/meminfo (kB lines). */
export function parseMeminfo(text: string): MemInfo {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/meminfo has no ${key} line`);
    return Number(m[1]) * 1024;
  };
  return { totalBytes: kb('MemTotal'), availableBytes: kb('MemAvailable') };
}

/** /proc/meminfo where there is one, else os.totalmem/freemem. */
export function readMemInfo(): MemInfo {
  try {
    return parseMeminfo(fs.readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return { totalBytes: os.totalmem(), availableBytes: os.freemem() };
  }
}

export interface CpuMemoryInput {
  rssBytes: number;
  tensorBytes: number;
  mem: MemInfo;
  /** ranks on this node sharing the free RAM */
  localWorldSize: number;
}

export function cpuMemory(x: CpuMemoryInput): DeviceMemory {
  const share = Math.max(1, x.localWorldSize);
  const available = x.rssBytes + x.mem.availableBytes / share;
  return {
    name: share > 1 ? `CPU RAM (1/${share} of the free RAM)` : 'CPU RAM',
    totalBytes: available,
    availableBytes: available,
    ownBytes: x.rssBytes,
    fixedBytes: Math.max(0, x.rssBytes - x.tensorBytes),
  };
}

export interface WasmMemoryInput {
  /** the heap's current size (it only grows) */
  heapBytes: number;
  mem: MemInfo;
  localWorldSize: number;
}

export function wasmMemory(x: WasmMemoryInput): DeviceMemory {
  const ramShare = x.heapBytes + x.mem.availableBytes / Math.max(1, x.localWorldSize);
  return {
    name: 'wasm heap',
    totalBytes: WASM_HEAP_LIMIT,
    availableBytes: Math.min(WASM_HEAP_LIMIT, ramShare),
    ownBytes: x.heapBytes,
    fixedBytes: 0,
  };
}

export interface GpuInfo {
  index: string;
  name: string;
  totalBytes: number;
  usedBytes: number;
}

const MIB = 2 ** 20;

/** One line of `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits` (MiB). */
export function parseGpuLine(line: string): GpuInfo {
  const parts = line.split(',').map((s) => s.trim());
  const [index, name, total, used] = parts;
  if (parts.length !== 4 || !Number.isFinite(Number(total)) || !Number.isFinite(Number(used))) {
    throw new Error(`unexpected nvidia-smi line ${JSON.stringify(line)}`);
  }
  return { index: index!, name: name!, totalBytes: Number(total) * MIB, usedBytes: Number(used) * MIB };
}

/** This pid's MiB from `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`; 0 if not listed. */
export function parseProcessGpuBytes(text: string, pid: number): number {
  for (const line of text.split('\n')) {
    const [p, used] = line.split(',').map((s) => s.trim());
    if (Number(p) === pid && Number.isFinite(Number(used))) return Number(used) * MIB;
  }
  return 0;
}

export interface GpuMemoryInput {
  gpu: GpuInfo;
  /** this process's memory on it (0 when nvidia-smi cannot see our pid, e.g. in a container) */
  ownBytes: number;
  tensorBytes: number;
}

export function gpuMemory(x: GpuMemoryInput): DeviceMemory {
  const others = Math.max(0, x.gpu.usedBytes - x.ownBytes);
  return {
    name: `CUDA:${x.gpu.index} (${x.gpu.name})`,
    totalBytes: x.gpu.totalBytes,
    availableBytes: x.gpu.totalBytes - others,
    ownBytes: x.ownBytes,
    fixedBytes: Math.max(0, x.ownBytes - x.tensorBytes),
  };
}

/** The GPU tfjs-node-gpu uses: `visible`, the first of CUDA_VISIBLE_DEVICES (the launcher sets one per rank). */
export function readGpuMemory(visible: string, tensorBytes: number): DeviceMemory {
  const smi = (args: string[]): string => execFileSync('nvidia-smi', args, { encoding: 'utf8', timeout: 10_000 });
  const gpu = parseGpuLine(
    smi(['--query-gpu=index,name,memory.total,memory.used', '--format=csv,noheader,nounits', '-i', visible]).trim(),
  );
  const apps = smi(['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits', '-i', visible]);
  return gpuMemory({ gpu, ownBytes: parseProcessGpuBytes(apps, process.pid), tensorBytes });
}
