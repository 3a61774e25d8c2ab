/**
 * A checkpoint opened for reading one tensor at a time: its keys, dtypes and shapes at once
 * (from the pickle or the safetensors header), each tensor's bytes only when asked for, read
 * from the file straight into memory the caller supplies (a {@link ScratchBuffer} reused from
 * tensor to tensor). A model loads from it holding its weights plus one tensor — no whole-file
 * buffer, no state dict of copies — which is what makes loading d16 (1.7 GB) fast and d24–d30
 * possible where the weights go to GPU memory.
 */
import { CheckpointError } from '@var/core/errors';
import { DTYPE_SIZE, type DType, HOST_LITTLE_ENDIAN, type RawTensor, swapBytesInPlace, typedFromLE } from './dtypes.js';
import { type ByteProgress, type ByteSource, type CheckpointSource, openSource } from './io.js';
import { checkpointFormat } from './format.js';
import { openPth, PendingTensor, type ReadPthOptions, selectStateDict, tensorFromArchive } from './pth.js';
import { readSafetensorsHeader } from './safetensors.js';
import { crc32 } from './zip.js';

/** Memory reused across reads: grows to the largest tensor read through it, never shrinks. */
export class ScratchBuffer {
  private buf = new ArrayBuffer(0);
  /** `n` bytes of it (8-byte aligned), valid until the next call. */
  bytes(n: number): Uint8Array {
    if (this.buf.byteLength < n) this.buf = new ArrayBuffer(Math.max(n, Math.ceil(this.buf.byteLength * 1.25)));
    return new Uint8Array(this.buf, 0, n);
  }
  /** Bytes held. */
  get byteLength(): number {
    return this.buf.byteLength;
  }
}

/** One tensor of an open checkpoint: known shape and dtype, bytes read on demand. */
export interface TensorEntry {
  readonly dtype: DType;
  readonly shape: number[];
  /** Bytes of its data. */
  readonly byteLength: number;
  /**
   * The tensor, host byte order. With `scratch` its data is a view of the scratch memory,
   * valid until the next read through that scratch; without, its own memory.
   * @throws CheckpointError when the file is truncated or corrupt (CRC-32 of .pth storages).
   */
  read(scratch?: ScratchBuffer): Promise<RawTensor>;
}

/** An open checkpoint (see {@link openStateDict}); close it when done. */
export interface CheckpointReader {
  readonly label: string;
  /** Bytes of the file. */
  readonly size: number;
  readonly format: 'pth' | 'safetensors';
  /** Every tensor of the state dict, in file order. */
  readonly entries: ReadonlyMap<string, TensorEntry>;
  close(): Promise<void>;
}

export interface OpenStateDictOptions extends Pick<ReadPthOptions, 'key' | 'verifyCrc' | 'maxPickleBytes' | 'maxExpandedBytes'> {
  /** Bytes read so far (sum of the reads; each tensor's bytes are read once). */
  onProgress?: (p: ByteProgress) => void;
}

/**
 * Open a `.pth` (zip) or safetensors checkpoint for reading tensor by tensor. The pickle (or
 * header) is read and checked now; tensor bytes when each entry is read.
 * @throws CheckpointError for files that are not checkpoints, or malformed / hostile ones.
 */
export async function openStateDict(src: CheckpointSource, opts: OpenStateDictOptions = {}): Promise<CheckpointReader> {
  const source = await openSource(src, opts.onProgress);
  try {
    const fmt = checkpointFormat(await source.read(0, Math.min(16, source.size)), source.label);
    const entries = fmt === 'pth' ? await pthEntries(source, opts) : await safetensorsEntries(source);
    return { label: source.label, size: source.size, format: fmt, entries, close: () => source.close() };
  } catch (e) {
    await source.close().catch(() => {});
    throw e;
  }
}

/**
 * The tensors `names` of an open checkpoint, in that order, read ahead by one: while the caller
 * works on a tensor (e.g. copies it into backend memory), the next one's bytes are already being
 * read from the file (in Node on libuv's I/O thread, so on another core). Each yielded tensor's
 * data views one of two scratch buffers and is valid until the next step of the iteration.
 * Names the checkpoint does not have are skipped.
 * @throws CheckpointError as {@link TensorEntry.read}
 */
export async function* readTensors(
  reader: CheckpointReader,
  names: Iterable<string>,
): AsyncGenerator<[string, RawTensor], void, undefined> {
  const list = [...names].filter((n) => reader.entries.has(n));
  const scratch = [new ScratchBuffer(), new ScratchBuffer()];
  const start = (i: number) => reader.entries.get(list[i])!.read(scratch[i % 2]);
  let pending = list.length ? start(0) : null;
  try {
    for (let i = 0; i < list.length; i++) {
      const t = await pending!;
      pending = i + 1 < list.length ? start(i + 1) : null;
      yield [list[i], t];
    }
  } finally {
    // an abandoned read ahead must not reject unhandled
    pending?.catch(() => undefined);
  }
}

async function safetensorsEntries(source: ByteSource): Promise<Map<string, TensorEntry>> {
  const header = await readSafetensorsHeader(source);
  const out = new Map<string, TensorEntry>();
  for (const e of header.entries) {
    const byteLength = e.end - e.begin;
    const at = header.dataStart + e.begin;
    out.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      byteLength,
      async read(scratch) {
        const target = scratch ? scratch.bytes(byteLength) : new Uint8Array(byteLength);
        await source.readInto(at, target);
        if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(target, DTYPE_SIZE[e.dtype]);
        return { dtype: e.dtype, shape: [...e.shape], data: typedFromLE(e.dtype, target, false) };
      },
    });
  }
  return out;
}

async function pthEntries(source: ByteSource, opts: OpenStateDictOptions): Promise<Map<string, TensorEntry>> {
  const pth = await openPth(source, opts);
  const sd = selectStateDict(pth.root, pth.label, opts.key);
  const out = new Map<string, TensorEntry>();
  for (const [k, v] of sd.map) {
    const name = k as string;
    const t = v as PendingTensor;
    const es = DTYPE_SIZE[t.dtype];
    const byteLength = t.numel * es;
    // The common case (every tensor of a torch.save'd state dict): the tensor is its whole
    // storage, stored uncompressed, little-endian — its bytes go from the file to `scratch` in one read.
    const whole =
      t instanceof PendingTensor &&
      t.storage.entry.method === 0 &&
      t.offset === 0 &&
      byteLength === t.storage.entry.size &&
      !pth.bigEndian &&
      isContiguous(t);
    out.set(name, {
      dtype: t.dtype,
      shape: [...t.shape],
      byteLength,
      async read(scratch) {
        if (whole) {
          const target = scratch ? scratch.bytes(byteLength) : new Uint8Array(byteLength);
          await pth.archive.readStoredInto(t.storage.entry, target);
          if (opts.verifyCrc !== false && crc32(target) !== t.storage.entry.crc32) {
            throw new CheckpointError(`${pth.label}: zip entry "${t.storage.entry.name}" is corrupt (CRC-32 mismatch)`);
          }
          if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(target, es);
          return { dtype: t.dtype, shape: [...t.shape], data: typedFromLE(t.dtype, target, false) };
        }
        // views into shared or compressed storages, strided tensors, big-endian files: the general path
        return tensorFromArchive(pth, t, name, opts);
      },
    });
  }
  return out;
}

function isContiguous(t: PendingTensor): boolean {
  let expect = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) return false;
    expect *= t.shape[d];
  }
  return true;
}
