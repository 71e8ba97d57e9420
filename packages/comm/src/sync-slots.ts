// The caller's completion words (protocol.ts SyncSlot): each a small SharedArrayBuffer the
// engine flips when a collective is done. A slot is posted with its buffer the first time
// and by id afterwards, and slots are reused: the engine keeps every slot it was sent, so
// their number stays that of the most collectives ever in flight at once.
import { SYNC_BYTES, type SyncSlot } from './protocol.js';

export interface Slot {
  id: number;
  sab: SharedArrayBuffer;
  /** [SYNC_STATE, SYNC_STATUS, SYNC_LEN, unused] */
  ctrl: Int32Array;
}

export class SyncSlots {
  private readonly free: Slot[] = [];
  private readonly sent = new Set<number>();
  private nextId = 1;

  acquire(): Slot {
    const slot = this.free.pop();
    if (slot) return slot;
    const sab = new SharedArrayBuffer(SYNC_BYTES);
    return { id: this.nextId++, sab, ctrl: new Int32Array(sab, 0, 4) };
  }

  release(slot: Slot): void {
    this.free.push(slot);
  }

  /** What to post for `slot`: the buffer itself the first time, its id afterwards. */
  wire(slot: Slot): SyncSlot {
    if (this.sent.has(slot.id)) return { id: slot.id };
    this.sent.add(slot.id);
    return { id: slot.id, sab: slot.sab };
  }
}
