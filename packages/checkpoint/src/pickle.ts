/**
 * A pickle interpreter (protocols 0–5) that executes no code.
 *
 * Python's pickle format is a small stack machine whose GLOBAL / STACK_GLOBAL
 * opcodes name arbitrary importable callables and whose REDUCE / NEWOBJ / BUILD
 * opcodes call them. Here every global goes through `resolveGlobal`, which maps an
 * allow-listed `module.name` to a pure TypeScript implementation and rejects
 * everything else with a {@link CheckpointError} naming the global — at the moment
 * it is named, before any call. Nothing from the pickle is ever looked up on a JS
 * object by name, evaluated or imported.
 *
 * Resource use is bounded by the input: every opcode consumes at least one byte,
 * lengths are checked against the remaining bytes before anything is sliced, the
 * memo is a Map (a huge index allocates nothing), and arbitrary-precision integers
 * are limited in length.
 */
import { CheckpointError } from '@var/core/errors';

/** A Python tuple (immutable sequence); lists are plain JS arrays. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A Python dict / OrderedDict. Keys are compared like JS Map keys (primitives by value). */
export class PyDict {
  readonly map = new Map<PyValue, PyValue>();
  /** Instance attributes set by BUILD (e.g. the `_metadata` of a state dict). */
  attrs?: Map<string, PyValue>;
  constructor(readonly ordered = false) {}
}

/** A Python set or frozenset. */
export class PySet {
  readonly items = new Set<PyValue>();
  constructor(readonly frozen = false) {}
}

/** `bytes` / `bytearray`. */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/**
 * An allow-listed global. `call` implements calling it (REDUCE, NEWOBJ, INST, OBJ);
 * `build` (optional) implements BUILD on objects it created.
 */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: PyValue[], kwargs?: PyDict) => PyValue,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An opaque object produced by an allow-listed callable (tensors, storages, dtypes, devices …). */
export abstract class PyOpaque {
  abstract describe(): string;
  /** BUILD with `state`; default: reject. */
  setState(state: PyValue): void {
    throw new CheckpointError(`pickle: cannot BUILD (set state of) ${this.describe()} with ${pyTypeName(state)}`);
  }
}

export type PyValue = null | boolean | number | bigint | string | PyBytes | PyTuple | PyValue[] | PyDict | PySet | PyGlobal | PyOpaque;

export function pyTypeName(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'string':
      return 'str';
  }
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyBytes) return 'bytes';
  if (v instanceof PyGlobal) return `global ${v.qualname}`;
  if (v instanceof PyOpaque) return v.describe();
  return 'object';
}

export interface UnpicklerOptions {
  /** Map `module`, `name` to an allow-listed global (or a constant such as a dtype object), or throw. */
  resolveGlobal(module: string, name: string): PyValue;
  /** Resolve a persistent id (PERSID / BINPERSID); absent: such opcodes are rejected. */
  persistentLoad?(pid: PyValue): PyValue;
  /** Label for error messages (e.g. "model.pth: archive/data.pkl"). */
  label?: string;
  /** Longest accepted arbitrary-precision integer, in bytes (default 1024). */
  maxLongBytes?: number;
}

type StackItem = PyValue;

/** Bytes to code points 0–255 (TextDecoder's "latin1" is windows-1252 in browsers). */
const latin1 = {
  decode(b: Uint8Array): string {
    let s = '';
    for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
    return s;
  },
};
const utf8 = new TextDecoder('utf-8');

/** Python 2 module names that `pickle` (fix_imports) maps to their Python 3 names. */
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
};

/**
 * Run the pickle in `data` and return the object it builds.
 * Throws {@link CheckpointError} on any malformed input or disallowed global.
 */
export function unpickle(data: Uint8Array, opts: UnpicklerOptions): PyValue {
  const label = opts.label ?? 'pickle';
  const maxLong = opts.maxLongBytes ?? 1024;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.length;
  let pos = 0;
  let stack: StackItem[] = [];
  const metastack: StackItem[][] = [];
  const memo = new Map<number, PyValue>();

  const fail = (msg: string): never => {
    throw new CheckpointError(`${label}: ${msg}`);
  };
  const need = (k: number, what: string) => {
    if (!Number.isSafeInteger(k) || k < 0 || pos + k > n) {
      fail(`truncated pickle: ${what} needs ${k} bytes at offset ${pos}, only ${n - pos} left`);
    }
  };
  const u8 = () => {
    need(1, 'argument');
    return data[pos++];
  };
  const u16 = () => {
    need(2, 'argument');
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4, 'argument');
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4, 'argument');
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8, 'argument');
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) fail(`length ${v} exceeds the ${n}-byte pickle`);
    return Number(v);
  };
  const bytes = (k: number, what: string) => {
    need(k, what);
    const b = data.subarray(pos, pos + k);
    pos += k;
    return b;
  };
  const line = (what: string): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated pickle: ${what} has no terminating newline`);
    if (end - pos > 1 << 20) fail(`${what} line is too long (${end - pos} bytes)`);
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos - 1}`);
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos - 1}`);
    return stack[stack.length - 1];
  };
  /** The items pushed since the last MARK; the stack below the mark becomes current again. */
  const popMark = (): PyValue[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail(`MARK expected but not found at offset ${pos - 1}`);
    stack = prev!;
    return items;
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) fail(`memo index ${i} is not defined (at offset ${pos})`);
    return memo.get(i)!;
  };
  const memoPut = (i: number) => {
    memo.set(i, top());
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length > maxLong) fail(`integer of ${b.length} bytes is longer than the ${maxLong}-byte limit`);
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return normInt(v);
  };
  const call = (fn: PyValue, args: PyValue[], kwargs?: PyDict): PyValue => {
    if (!(fn instanceof PyGlobal)) fail(`cannot call ${pyTypeName(fn)} (only allow-listed globals are callable)`);
    const g = fn as PyGlobal;
    if (!g.call) fail(`${g.qualname} is allow-listed as a value but cannot be called`);
    return g.call!(args, kwargs);
  };
  const findClass = (module: string, name: string): PyValue => {
    const m = PY2_MODULES[module] ?? module;
    return opts.resolveGlobal(m, name);
  };
  const persistent = (pid: PyValue): PyValue => {
    if (!opts.persistentLoad) fail('pickle uses persistent ids but none are expected here');
    return opts.persistentLoad!(pid);
  };
  const setItems = (d: PyValue, items: PyValue[]) => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on ${pyTypeName(d)}, expected a dict`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (d as PyDict).map.set(dictKey(items[i], fail), items[i + 1]);
  };

  let sawStop = false;
  let result: PyValue = null;
  while (pos < n) {
    const opPos = pos;
    const op = data[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v} (supported: 0–5)`);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP '.'
        result = pop();
        sawStop = true;
        break;
      case 0x28: // MARK '('
        metastack.push(stack);
        stack = [];
        if (metastack.length > 100_000) fail('MARK nesting is too deep');
        break;
      case 0x30: // POP '0'
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        stack.push(top());
        break;
      // ---- constants
      case 0x4e: // NONE 'N'
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT 'J'
        stack.push(i32());
        break;
      case 0x4b: // BININT1 'K'
        stack.push(u8());
        break;
      case 0x4d: // BININT2 'M'
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1
        const k = u8();
        stack.push(decodeLong(bytes(k, 'LONG1')));
        break;
      }
      case 0x8b: {
        // LONG4
        const k = i32();
        if (k < 0) fail(`LONG4 with negative length ${k}`);
        stack.push(decodeLong(bytes(k, 'LONG4')));
        break;
      }
      case 0x49: {
        // INT 'I' (text; "00"/"01" are False/True)
        const s = line('INT');
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(parseIntText(s, maxLong, fail));
        break;
      }
      case 0x4c: {
        // LONG 'L' (text, optional trailing L)
        const s = line('LONG');
        stack.push(parseIntText(s.endsWith('L') ? s.slice(0, -1) : s, maxLong, fail));
        break;
      }
      case 0x46: {
        // FLOAT 'F' (text)
        const s = line('FLOAT').trim();
        const v = parseFloatText(s);
        if (v === undefined) fail(`FLOAT ${JSON.stringify(s.slice(0, 40))} is not a number`);
        stack.push(v!);
        break;
      }
      case 0x47: // BINFLOAT 'G' (big-endian double)
        need(8, 'BINFLOAT');
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      // ---- strings and bytes
      case 0x58: {
        // BINUNICODE 'X'
        const k = u32();
        stack.push(utf8.decode(bytes(k, 'BINUNICODE')));
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        const k = u8();
        stack.push(utf8.decode(bytes(k, 'SHORT_BINUNICODE')));
        break;
      }
      case 0x8d: {
        // BINUNICODE8
        const k = u64();
        stack.push(utf8.decode(bytes(k, 'BINUNICODE8')));
        break;
      }
      case 0x56: // UNICODE 'V' (raw-unicode-escape text)
        stack.push(rawUnicodeEscape(line('UNICODE')));
        break;
      case 0x53: {
        // STRING 'S' (python 2 str literal; decoded as latin-1 like encoding='latin1')
        stack.push(pyStringLiteral(line('STRING'), fail));
        break;
      }
      case 0x54: {
        // BINSTRING 'T' (python 2 str)
        const k = i32();
        if (k < 0) fail(`BINSTRING with negative length ${k}`);
        stack.push(latin1.decode(bytes(k, 'BINSTRING')));
        break;
      }
      case 0x55: {
        // SHORT_BINSTRING 'U'
        const k = u8();
        stack.push(latin1.decode(bytes(k, 'SHORT_BINSTRING')));
        break;
      }
      case 0x42: {
        // BINBYTES 'B'
        const k = u32();
        stack.push(new PyBytes(bytes(k, 'BINBYTES').slice()));
        break;
      }
      case 0x43: {
        // SHORT_BINBYTES 'C'
        const k = u8();
        stack.push(new PyBytes(bytes(k, 'SHORT_BINBYTES').slice()));
        break;
      }
      case 0x8e: {
        // BINBYTES8
        const k = u64();
        stack.push(new PyBytes(bytes(k, 'BINBYTES8').slice()));
        break;
      }
      case 0x96: {
        // BYTEARRAY8
        const k = u64();
        stack.push(new PyBytes(bytes(k, 'BYTEARRAY8').slice()));
        break;
      }
      case 0x97: // NEXT_BUFFER
        fail('pickle uses out-of-band buffers (NEXT_BUFFER), which are not supported');
        break;
      case 0x98: // READONLY_BUFFER
        top();
        break;
      // ---- containers
      case 0x29: // EMPTY_TUPLE ')'
        stack.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE 't'
        {
          const items = popMark();
          stack.push(new PyTuple(items));
        }
        break;
      case 0x5d: // EMPTY_LIST ']'
        stack.push([]);
        break;
      case 0x6c: // LIST 'l'
        {
          const items = popMark();
          stack.push(items);
        }
        break;
      case 0x61: {
        // APPEND 'a'
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) fail(`APPEND to ${pyTypeName(l)}, expected a list`);
        (l as PyValue[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) fail(`APPENDS to ${pyTypeName(l)}, expected a list`);
        for (const it of items) (l as PyValue[]).push(it);
        break;
      }
      case 0x7d: // EMPTY_DICT '}'
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT 'd'
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new PySet());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet) || s.frozen) fail(`ADDITEMS to ${pyTypeName(s)}, expected a set`);
        for (const it of items) (s as PySet).items.add(dictKey(it, fail));
        break;
      }
      case 0x91: {
        // FROZENSET
        const s = new PySet(true);
        for (const it of popMark()) s.items.add(dictKey(it, fail));
        stack.push(s);
        break;
      }
      // ---- memo
      case 0x67: {
        // GET 'g'
        const s = line('GET');
        if (!/^\d{1,15}$/.test(s)) fail(`GET with invalid index ${JSON.stringify(s.slice(0, 20))}`);
        stack.push(memoGet(Number(s)));
        break;
      }
      case 0x68: // BINGET 'h'
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET 'j'
        stack.push(memoGet(u32()));
        break;
      case 0x70: {
        // PUT 'p'
        const s = line('PUT');
        if (!/^\d{1,15}$/.test(s)) fail(`PUT with invalid index ${JSON.stringify(s.slice(0, 20))}`);
        memoPut(Number(s));
        break;
      }
      case 0x71: // BINPUT 'q'
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      // ---- globals and calls
      case 0x63: {
        // GLOBAL 'c'
        const module = line('GLOBAL module');
        const name = line('GLOBAL name');
        stack.push(findClass(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          fail(`STACK_GLOBAL needs two strings, found ${pyTypeName(module)} and ${pyTypeName(name)}`);
        }
        stack.push(findClass(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments must be a tuple, found ${pyTypeName(args)}`);
        stack.push(call(fn, (args as PyTuple).items));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) fail(`NEWOBJ arguments must be a tuple, found ${pyTypeName(args)}`);
        stack.push(call(cls, (args as PyTuple).items));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict)) fail('NEWOBJ_EX needs a tuple and a dict');
        stack.push(call(cls, (args as PyTuple).items, kwargs as PyDict));
        break;
      }
      case 0x69: {
        // INST 'i'
        const module = line('INST module');
        const name = line('INST name');
        const cls = findClass(module, name);
        const items = popMark();
        stack.push(call(cls, items));
        break;
      }
      case 0x6f: {
        // OBJ 'o'
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD 'b'
        const state = pop();
        const obj = top();
        build(obj, state, fail);
        break;
      }
      case 0x50: // PERSID 'P'
        stack.push(persistent(line('PERSID')));
        break;
      case 0x51: // BINPERSID 'Q'
        stack.push(persistent(pop()));
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail(`pickle uses the copyreg extension registry (EXT opcode 0x${op.toString(16)}), which is not allowed`);
        break;
      default:
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${opPos}`);
    }
    if (sawStop) break;
  }
  if (!sawStop) fail('truncated pickle: no STOP opcode');
  return result;
}

/** BUILD: set the state of `obj`. */
function build(obj: PyValue, state: PyValue, fail: (m: string) => never): void {
  if (obj instanceof PyOpaque) {
    obj.setState(state);
    return;
  }
  if (obj instanceof PyDict) {
    // An OrderedDict subclass instance with attributes (torch puts `_metadata` here).
    let dictState: PyValue = state;
    if (state instanceof PyTuple && state.items.length === 2) dictState = state.items[0] ?? state.items[1];
    if (dictState === null) return;
    if (!(dictState instanceof PyDict)) fail(`BUILD on a dict with state ${pyTypeName(state)}`);
    obj.attrs ??= new Map();
    for (const [k, v] of (dictState as PyDict).map) {
      if (typeof k !== 'string') fail(`BUILD attribute name must be a str, found ${pyTypeName(k)}`);
      obj.attrs.set(k as string, v);
    }
    return;
  }
  fail(`BUILD (set state) on ${pyTypeName(obj)} is not allowed`);
}

/** Check a dict key / set item is hashable in Python terms. */
function dictKey(k: PyValue, fail: (m: string) => never): PyValue {
  if (Array.isArray(k) || k instanceof PyDict || (k instanceof PySet && !k.frozen))
    fail(`unhashable ${pyTypeName(k)} used as a dict key or set item`);
  return k;
}

export function normInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntText(s: string, maxBytes: number, fail: (m: string) => never): number | bigint {
  if (!/^[+-]?\d+$/.test(s)) fail(`invalid integer literal ${JSON.stringify(s.slice(0, 40))}`);
  if (s.length > maxBytes * 2.5 + 2) fail(`integer literal of ${s.length} digits is too long`);
  return normInt(BigInt(s));
}

function parseFloatText(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/.test(s)) return Number(s);
  const l = s.toLowerCase();
  if (l === 'nan' || l === '+nan' || l === '-nan') return NaN;
  if (l === 'inf' || l === '+inf' || l === 'infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  return undefined;
}

function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (m, a, b) => {
    const cp = parseInt(a ?? b, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

/** A python 2 `repr(str)` literal: quoted, with backslash escapes; returned latin-1 decoded. */
function pyStringLiteral(s: string, fail: (m: string) => never): string {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q)
    fail(`STRING argument ${JSON.stringify(s.slice(0, 40))} is not quoted`);
  const body = s.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        let oct = e;
        while (oct.length < 3 && /[0-7]/.test(body[i + 1] ?? '')) oct += body[++i];
        out += String.fromCharCode(parseInt(oct, 8) & 0xff);
        break;
      }
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('STRING has an invalid \\x escape');
        out += String.fromCharCode(parseInt(h, 16));
        i += 2;
        break;
      }
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
      case "'":
      case '"':
        out += e;
        break;
      case undefined:
        fail('STRING ends with a lone backslash');
        break;
      default:
        out += '\\' + e;
    }
  }
  return out;
}
