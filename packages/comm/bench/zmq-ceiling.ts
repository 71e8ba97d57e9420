// The raw ZeroMQ ceiling: one process PUSHes N messages of a given size, another PULLs them;
// the rate is bytes over the time from the first to the last received message.
// Usage: node zmq-ceiling.js pull <endpoint> <bytes> <count> | push <endpoint> <bytes> <count>
import { Pull, Push } from 'zeromq';

const [role, endpoint, bytesS, countS] = process.argv.slice(2);
const bytes = Number(bytesS);
const count = Number(countS);

async function main(): Promise<void> {
  if (role === 'pull') {
    const s = new Pull({ receiveHighWaterMark: 4 });
    await s.bind(endpoint!);
    process.stdout.write(`BOUND ${s.lastEndpoint}\n`);
    let t0 = 0n;
    for (let i = 0; i <= count; i++) {
      await s.receive();
      if (i === 0) t0 = process.hrtime.bigint(); // message 0 is the warm-up
    }
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(`RATE ${JSON.stringify({ bytes, count, seconds: sec, gbps: (bytes * count) / sec / 1e9 })}\n`);
    s.close();
  } else {
    const s = new Push({ sendHighWaterMark: 4 });
    s.connect(endpoint!);
    const msg = Buffer.alloc(bytes, 1);
    for (let i = 0; i <= count; i++) await s.send(msg);
    s.linger = 30_000;
    s.close();
  }
}
void main();
