/**
 * The preflight probe, run on every node before a multi-node job starts
 * (`yolo-launch __probe <addr> <port>`): can this node open a TCP connection to the master
 * port, and which interface would it use? It prints one JSON line.
 *
 * A refused connection still proves the route works (nothing listens yet when the master
 * address is not the launching machine); a timeout or an unreachable network does not.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';

export interface ProbeResult {
  ok: boolean;
  /** True when the master answered (something listened), false when it refused. */
  listening: boolean;
  localAddress?: string;
  iface?: string;
  error?: string;
}

/** The local address and interface the kernel routes to `addr` through (UDP connect sends nothing). */
export function routeTo(addr: string, port: number): Promise<{ localAddress?: string; iface?: string }> {
  return new Promise((resolve) => {
    const family = net.isIPv6(addr) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket(family);
    socket.on('error', () => {
      socket.close();
      resolve({});
    });
    socket.connect(port, addr, () => {
      const localAddress = socket.address().address;
      socket.close();
      resolve({ localAddress, iface: interfaceOf(localAddress) });
    });
  });
}

export function interfaceOf(address: string): string | undefined {
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    if (list?.some((i) => i.address === address)) return name;
  }
  return undefined;
}

export async function probe(addr: string, port: number, timeoutMs = 10_000): Promise<ProbeResult> {
  const route = await routeTo(addr, port);
  return new Promise((resolve) => {
    const socket = net.connect({ host: addr, port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...route, ...result });
    };
    const timer = setTimeout(
      () => finish({ ok: false, listening: false, error: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('connect', () => finish({ ok: true, listening: true, localAddress: socket.localAddress }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') finish({ ok: true, listening: false });
      else finish({ ok: false, listening: false, error: err.code ?? err.message });
    });
  });
}
