/** Ports: a free one from the OS, and a clear error naming whoever holds a taken one. */
import { promises as dns } from 'node:dns';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { UsageError } from './errors.js';

/** A port the OS reports free right now (bind port 0, read it, close). */
export function freePort(host = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Listens on host:port; resolves the server, or rejects with the bind error. */
export function listen(port: number, host = '0.0.0.0'): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export interface PortOwner {
  pid: number;
  command: string;
}

/** Finds the process listening on a TCP port through /proc (Linux); null when unknown. */
export function findPortOwner(port: number): PortOwner | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = cols[1]!;
      const state = cols[3];
      if (state !== '0A') continue; // LISTEN
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return null;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match && inodes.has(match[1]!)) {
        let command = '?';
        try {
          command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
        } catch {
          /* the process just ended */
        }
        if (command.length > 100) command = `${command.slice(0, 97)}...`;
        return { pid: Number(pid), command };
      }
    }
  }
  return null;
}

/** True when the name resolves to an address of this machine. */
export async function isLocalAddress(host: string): Promise<boolean> {
  let address: string;
  try {
    address = (await dns.lookup(host)).address;
  } catch {
    return false;
  }
  if (address.startsWith('127.') || address === '::1' || address === '0.0.0.0') return true;
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.address === address));
}

export function portTakenError(port: number, flagHint: string): UsageError {
  const owner = findPortOwner(port);
  const who = owner ? ` by pid ${owner.pid} (${owner.command})` : '';
  return new UsageError(`master port ${port} is already in use${who}; ${flagHint}`);
}

/** Throws a UsageError naming the owner when the port cannot be bound on this machine. */
export async function assertPortFree(port: number): Promise<void> {
  let server: net.Server;
  try {
    server = await listen(port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw portTakenError(port, 'choose another with --master-port or use --standalone');
    }
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      throw new UsageError(`master port ${port} needs privileges to bind; choose a port above 1023`);
    }
    throw err;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
