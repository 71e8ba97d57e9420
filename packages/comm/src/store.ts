// The key-value store rank 0 serves (set/get/wait/add, like torch's TCPStore). Pure logic:
// the rendezvous server feeds it requests and sends the answers.
import type { StoreRequest } from './wire.js';

export interface StoreAnswer {
  value?: Uint8Array;
  num?: number;
  error?: string;
}

interface Waiter {
  keys: string[];
  answer: (a: StoreAnswer) => void;
}

export class KeyValueStore {
  private readonly data = new Map<string, Uint8Array>();
  private waiters: Waiter[] = [];

  /** Calls `answer` now or once the request can be served (get/wait block until keys exist). */
  handle(req: StoreRequest, answer: (a: StoreAnswer) => void): void {
    switch (req.op) {
      case 'set':
        this.data.set(req.key, new Uint8Array(req.value));
        answer({});
        this.wake();
        return;
      case 'add': {
        const prev = this.data.get(req.key);
        const n = (prev ? Number(Buffer.from(prev).toString('utf8')) : 0) + req.delta;
        if (!Number.isFinite(n)) {
          answer({ error: `store key ${req.key} does not hold an integer` });
          return;
        }
        this.data.set(req.key, Buffer.from(String(n)));
        answer({ num: n });
        this.wake();
        return;
      }
      case 'get':
        this.whenPresent([req.key], () => answer({ value: this.data.get(req.key) }));
        return;
      case 'wait':
        this.whenPresent(req.keys, () => answer({}));
        return;
      default:
        answer({ error: 'unknown store operation' });
    }
  }

  private whenPresent(keys: string[], answer: () => void): void {
    if (keys.every((k) => this.data.has(k))) answer();
    else this.waiters.push({ keys, answer });
  }

  private wake(): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.keys.every((k) => this.data.has(k))) w.answer({});
      else still.push(w);
    }
    this.waiters = still;
  }
}
