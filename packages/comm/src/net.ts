// Addresses: which interface a rank binds and advertises, whether two ranks share a host
// (and so may use ipc://), and small port helpers the launcher can reuse.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { CommError } from './errors.js';

export interface AdvertiseChoice {
  address: string; // IPv4 address to bind and advertise
  ifname: string; // interface owning it ('?' when unknown)
  why: string; // how it was chosen, for the start-up line
}

function ipv4Of(ifname: string): string | undefined {
  const list = os.networkInterfaces()[ifname];
  return list?.find((a) => a.family === 'IPv4')?.address;
}

function ifnameOf(address: string): string {
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    if (list?.some((a) => a.address === address)) return name;
  }
  return '?';
}

export function isLocalAddress(address: string): boolean {
  return ifnameOf(address) !== '?';
}

export async function resolveIPv4(host: string): Promise<string> {
  if (net.isIPv4(host)) return host;
  try {
    return (await dns.lookup(host, { family: 4 })).address;
  } catch (e) {
    throw new CommError('RENDEZVOUS', `cannot resolve MASTER_ADDR ${host}: ${(e as Error).message}`);
  }
}

/** The source address the kernel would use to reach `target` (no packet is sent). */
async function routeSource(target: string, port: number): Promise<string> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(port || 9, target, () => resolve());
    });
    return sock.address().address;
  } finally {
    sock.close();
  }
}

export async function chooseAdvertiseAddress(
  masterAddr: string,
  masterPort: number,
  ifname?: string,
): Promise<AdvertiseChoice> {
  if (ifname) {
    const address = ipv4Of(ifname);
    if (!address) {
      const names = Object.keys(os.networkInterfaces()).join(', ');
      throw new CommError('INVALID', `YOLO_SOCKET_IFNAME=${ifname} has no IPv4 address here (interfaces: ${names})`);
    }
    return { address, ifname, why: 'YOLO_SOCKET_IFNAME' };
  }
  const master = await resolveIPv4(masterAddr);
  const address = await routeSource(master, masterPort);
  return { address, ifname: ifnameOf(address), why: `route to MASTER_ADDR ${masterAddr}` };
}

/**
 * Identifies "same host and same filesystem": ranks with equal ids can reach each other's
 * ipc:// sockets. The mount namespace matters (two containers on one host do not share /tmp).
 */
export function hostIdentity(): string {
  const read = (p: string): string => {
    try {
      return fs.readFileSync(p, 'utf8').trim();
    } catch {
      return '';
    }
  };
  let mnt = '';
  try {
    mnt = fs.readlinkSync('/proc/self/ns/mnt');
  } catch {
    /* not Linux */
  }
  return [os.hostname(), read('/proc/sys/kernel/random/boot_id'), mnt].join('|');
}

/** True when nothing listens on host:port and we may bind it. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the OS considers free right now (bind port 0, read it, release it). */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a TCP connection to host:port succeeds within timeoutMs. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
