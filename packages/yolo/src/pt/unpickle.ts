// A pickle interpreter that rebuilds data and never runs code (protocols 2 to 5, the opcodes
// torch.save and Python's pickle emit for checkpoints). GLOBAL only looks names up in the
// table of globals.ts; REDUCE / NEWOBJ / BUILD apply the table's pure rebuild functions or
// record the call on an inert PyObject. Protocol 0/1 text opcodes are refused with a message.
import { GLOBALS, setNumpyState } from './globals.js';
import {
  NumpyArray,
  NumpyDtype,
  PyGlobal,
  PyObject,
  PyTuple,
  StorageType,
  sequenceItems,
  type PyValue,
} from './values.js';

export interface UnpickleOptions {
  /** torch's persistent_load: ('storage', type, key, location, numel) -> a storage. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

/** Raised for a malformed pickle; the checkpoint reader adds the file name. */
export class UnpickleError extends Error {}

const MARK = Symbol('mark');
const UTF8 = new TextDecoder();
const LATIN1 = new TextDecoder('latin1');
type StackItem = PyValue | typeof MARK;

class Interpreter {
  private pos = 0;
  private readonly view: DataView;
  private stack: StackItem[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): PyValue {
    for (;;) {
      const opcode = this.u8();
      if (opcode === 0x2e /* STOP '.' */) return this.pop();
      this.step(opcode);
    }
  }

  // ---- reading the byte stream ----
  private need(n: number): void {
    if (this.pos + n > this.bytes.byteLength)
      throw new UnpickleError(`pickle ends early at byte ${this.pos} (truncated)`);
  }
  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8);
    const v = Number(this.view.getBigUint64(this.pos, true));
    this.pos += 8;
    return v;
  }
  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw new UnpickleError('pickle ends inside a text line (truncated)');
    const text = LATIN1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
  private utf8(n: number): string {
    return UTF8.decode(this.take(n));
  }

  // ---- the stack ----
  private push(value: PyValue): void {
    this.stack.push(value);
  }
  private pop(): PyValue {
    const value = this.stack.pop();
    if (value === undefined || value === MARK) throw new UnpickleError(`pickle stack underflow at byte ${this.pos}`);
    return value;
  }
  private top(): PyValue {
    const value = this.stack[this.stack.length - 1];
    if (value === undefined || value === MARK) throw new UnpickleError(`pickle stack empty at byte ${this.pos}`);
    return value;
  }
  /** Items pushed since the last MARK (which is removed). */
  private popMark(): PyValue[] {
    const at = this.marks.pop();
    if (at === undefined) throw new UnpickleError(`pickle has no MARK to pop at byte ${this.pos}`);
    const items = this.stack.slice(at + 1) as PyValue[];
    this.stack.length = at;
    return items;
  }
  private memoGet(index: number): PyValue {
    const value = this.memo.get(index);
    if (value === undefined) throw new UnpickleError(`pickle memo ${index} read before it was written`);
    return value;
  }

  private step(opcode: number): void {
    const handled =
      this.pushConstant(opcode) ||
      this.stackOp(opcode) ||
      this.sequenceOp(opcode) ||
      this.mappingOp(opcode) ||
      this.memoOp(opcode) ||
      this.objectOp(opcode);
    if (handled) return;
    throw new UnpickleError(
      `pickle opcode 0x${opcode.toString(16)} ('${String.fromCharCode(opcode)}') at byte ${this.pos - 1} is not supported (torch.save writes protocol 2)`,
    );
  }

  /** Opcodes that push one scalar. */
  private pushConstant(op: number): boolean {
    switch (op) {
      case 0x80:
        /* PROTO */ this.u8();
        return true;
      case 0x95:
        /* FRAME */ this.u64();
        return true;
      case 0x4e:
        /* NONE */ this.push(null);
        return true;
      case 0x88:
        /* NEWTRUE */ this.push(true);
        return true;
      case 0x89:
        /* NEWFALSE */ this.push(false);
        return true;
      case 0x4a:
        /* BININT */ this.need(4);
        this.push(this.view.getInt32(this.pos, true));
        this.pos += 4;
        return true;
      case 0x4b:
        /* BININT1 */ this.push(this.u8());
        return true;
      case 0x4d:
        /* BININT2 */ this.push(this.u16());
        return true;
      case 0x8a:
        /* LONG1 */ this.push(decodeLong(this.take(this.u8())));
        return true;
      case 0x8b:
        /* LONG4 */ this.push(decodeLong(this.take(this.u32())));
        return true;
      case 0x47:
        /* BINFLOAT */ this.need(8);
        this.push(this.view.getFloat64(this.pos, false));
        this.pos += 8;
        return true;
      case 0x58:
        /* BINUNICODE */ this.push(this.utf8(this.u32()));
        return true;
      case 0x8c:
        /* SHORT_BINUNICODE */ this.push(this.utf8(this.u8()));
        return true;
      case 0x8d:
        /* BINUNICODE8 */ this.push(this.utf8(this.u64()));
        return true;
      case 0x55:
        /* SHORT_BINSTRING */ this.push(LATIN1.decode(this.take(this.u8())));
        return true;
      case 0x54:
        /* BINSTRING */ this.push(LATIN1.decode(this.take(this.u32())));
        return true;
      case 0x43:
        /* SHORT_BINBYTES */ this.push(this.take(this.u8()));
        return true;
      case 0x42:
        /* BINBYTES */ this.push(this.take(this.u32()));
        return true;
      case 0x8e:
        /* BINBYTES8 */ this.push(this.take(this.u64()));
        return true;
      case 0x96:
        /* BYTEARRAY8 */ this.push(this.take(this.u64()));
        return true;
      default:
        return false;
    }
  }

  /** The mark stack, POP and DUP. */
  private stackOp(op: number): boolean {
    switch (op) {
      case 0x28:
        /* MARK */ this.marks.push(this.stack.length);
        this.stack.push(MARK);
        return true;
      case 0x30:
        /* POP */ this.stack.pop();
        return true;
      case 0x31:
        /* POP_MARK */ this.popMark();
        return true;
      case 0x32:
        /* DUP */ this.push(this.top());
        return true;
      default:
        return false;
    }
  }

  /** Tuples and lists. */
  private sequenceOp(op: number): boolean {
    switch (op) {
      case 0x29:
        /* EMPTY_TUPLE */ this.push(new PyTuple([]));
        return true;
      case 0x85:
        /* TUPLE1 */ this.push(new PyTuple([this.pop()]));
        return true;
      case 0x86: /* TUPLE2 */ {
        const b = this.pop();
        const a = this.pop();
        this.push(new PyTuple([a, b]));
        return true;
      }
      case 0x87: /* TUPLE3 */ {
        const c = this.pop();
        const b = this.pop();
        const a = this.pop();
        this.push(new PyTuple([a, b, c]));
        return true;
      }
      case 0x74:
        /* TUPLE */ this.push(new PyTuple(this.popMark()));
        return true;
      case 0x5d:
        /* EMPTY_LIST */ this.push([]);
        return true;
      case 0x6c:
        /* LIST */ this.push(this.popMark());
        return true;
      case 0x61: /* APPEND */ {
        const item = this.pop();
        this.list(this.top()).push(item);
        return true;
      }
      case 0x65: /* APPENDS */ {
        const items = this.popMark();
        this.list(this.top()).push(...items);
        return true;
      }
      default:
        return false;
    }
  }

  /** Dicts and sets. */
  private mappingOp(op: number): boolean {
    switch (op) {
      case 0x7d:
        /* EMPTY_DICT */ this.push(new Map());
        return true;
      case 0x64: /* DICT */ {
        const map = new Map<PyValue, PyValue>();
        setPairs(map, this.popMark());
        this.push(map);
        return true;
      }
      case 0x73: /* SETITEM */ {
        const value = this.pop();
        const key = this.pop();
        this.dict(this.top()).set(key, value);
        return true;
      }
      case 0x75: /* SETITEMS */ {
        const items = this.popMark();
        setPairs(this.dict(this.top()), items);
        return true;
      }
      case 0x8f:
        /* EMPTY_SET */ this.push(new Set());
        return true;
      case 0x90: /* ADDITEMS */ {
        const items = this.popMark();
        const set = this.top();
        if (!(set instanceof Set)) throw new UnpickleError('ADDITEMS on a non-set');
        items.forEach((item) => set.add(item));
        return true;
      }
      case 0x91:
        /* FROZENSET */ this.push(new Set(this.popMark()));
        return true;
      default:
        return false;
    }
  }

  private memoOp(op: number): boolean {
    switch (op) {
      case 0x71:
        /* BINPUT */ this.memo.set(this.u8(), this.top());
        return true;
      case 0x72:
        /* LONG_BINPUT */ this.memo.set(this.u32(), this.top());
        return true;
      case 0x94:
        /* MEMOIZE */ this.memo.set(this.memo.size, this.top());
        return true;
      case 0x68:
        /* BINGET */ this.push(this.memoGet(this.u8()));
        return true;
      case 0x6a:
        /* LONG_BINGET */ this.push(this.memoGet(this.u32()));
        return true;
      case 0x70:
        /* PUT */ this.memo.set(Number(this.line()), this.top());
        return true;
      case 0x67:
        /* GET */ this.push(this.memoGet(Number(this.line())));
        return true;
      default:
        return false;
    }
  }

  /** GLOBAL, REDUCE, NEWOBJ, BUILD, persistent ids: the only places code could run; none does. */
  private objectOp(op: number): boolean {
    switch (op) {
      case 0x63: /* GLOBAL */ {
        const module = this.line();
        const name = this.line();
        this.push(lookupGlobal(module, name));
        return true;
      }
      case 0x93: /* STACK_GLOBAL */ {
        const name = String(this.pop());
        const module = String(this.pop());
        this.push(lookupGlobal(module, name));
        return true;
      }
      case 0x52: /* REDUCE */ {
        const args = sequenceItems(this.pop()) ?? [];
        this.push(call(this.pop(), args));
        return true;
      }
      case 0x81: /* NEWOBJ */ {
        const args = sequenceItems(this.pop()) ?? [];
        this.push(call(this.pop(), args));
        return true;
      }
      case 0x92: /* NEWOBJ_EX */ {
        this.pop();
        const args = sequenceItems(this.pop()) ?? [];
        this.push(call(this.pop(), args));
        return true;
      }
      case 0x62: /* BUILD */ {
        const state = this.pop();
        build(this.top(), state);
        return true;
      }
      case 0x51:
        /* BINPERSID */ this.push(this.persistent(this.pop()));
        return true;
      default:
        return false;
    }
  }

  private persistent(pid: PyValue): PyValue {
    if (!this.options.persistentLoad)
      throw new UnpickleError('pickle refers to external storage (persistent id) but none was given');
    return this.options.persistentLoad(pid);
  }
  private list(value: PyValue): PyValue[] {
    if (!Array.isArray(value)) throw new UnpickleError(`APPEND on a non-list at byte ${this.pos}`);
    return value;
  }
  private dict(value: PyValue): Map<PyValue, PyValue> {
    if (!(value instanceof Map)) throw new UnpickleError(`SETITEM on a non-dict at byte ${this.pos}`);
    return value;
  }
}

function setPairs(map: Map<PyValue, PyValue>, items: PyValue[]): void {
  for (let k = 0; k + 1 < items.length; k += 2) map.set(items[k]!, items[k + 1]!);
}

/** Python's two's complement little-endian long. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let k = bytes.length - 1; k >= 0; k--) value = (value << 8n) | BigInt(bytes[k]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function lookupGlobal(module: string, name: string): PyValue {
  const entry = GLOBALS.get(`${module}.${name}`);
  if (entry?.kind === 'storage') return new StorageType(entry.dtype);
  return new PyGlobal(module, name, entry !== undefined);
}

/** REDUCE / NEWOBJ: a table function's rebuild, or an inert instance of the named class. */
function call(callable: PyValue, args: PyValue[]): PyValue {
  if (!(callable instanceof PyGlobal))
    throw new UnpickleError(`pickle calls something that is not a global (${describe(callable)})`);
  const entry = GLOBALS.get(callable.qualifiedName);
  if (entry?.kind === 'function') {
    try {
      return entry.call(args);
    } catch (err) {
      throw new UnpickleError(`${callable.qualifiedName}: ${(err as Error).message}`);
    }
  }
  return new PyObject(callable.qualifiedName, entry !== undefined, args);
}

/** BUILD: set an object's state. Nothing user-defined (__setstate__) is looked up or run. */
function build(target: PyValue, state: PyValue): void {
  if (target instanceof PyObject) target.state = state;
  else if (target instanceof NumpyArray) setNumpyState(target, state);
  else if (target instanceof NumpyDtype) target.byteOrder = String(sequenceItems(state)?.[1] ?? '<');
  // A dict's BUILD state is its instance attributes (a state_dict's `_metadata`), not items;
  // tensors and other rebuilt values carry no state a checkpoint needs: ignored.
}

function describe(value: PyValue): string {
  return value === null ? 'None' : typeof value === 'object' ? value.constructor.name : typeof value;
}

/** Interpret a pickle into plain data. Throws UnpickleError on malformed input. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PyValue {
  return new Interpreter(bytes, options).run();
}
