import { scopeContains, type MemoryScope } from "../scope.js";
import { TopK } from "./top_k.js";
import { dotAt, type VectorKernel } from "./vector_index.js";

/** Rough per-row overhead (id, map entry) used for the memory budget. */
const ITEM_OVERHEAD_BYTES = 60;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Returns a unit-length copy of the vector (all zeros stays all zeros). */
export function normalizeVector(vector: ArrayLike<number>): Float32Array {
  const out = new Float32Array(vector.length);
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  norm = Math.sqrt(norm);
  const scale = norm > 0 ? 1 / norm : 0;
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}

/** Encodes a vector as a Float32 little-endian BLOB. */
export function vectorToBlob(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  const buf = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buf.writeFloatLE(vector[i], i * 4);
  return buf;
}

/** Decodes a Float32 little-endian BLOB into `target` at element offset `offset`. */
export function blobIntoVector(blob: Uint8Array, target: Float32Array, offset = 0): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(target.buffer, target.byteOffset + offset * 4, blob.byteLength).set(blob);
    return;
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < blob.byteLength / 4; i++) target[offset + i] = view.getFloat32(i * 4, true);
}

/** Decodes a Float32 little-endian BLOB. */
export function blobToVector(blob: Uint8Array): Float32Array {
  const out = new Float32Array(blob.byteLength / 4);
  blobIntoVector(blob, out);
  return out;
}

/** The vectors of one scope in one growable matrix of unit vectors, with the id of each row. */
export class ScopeVectors {
  private matrix: Float32Array;
  private ids: string[] = [];
  private readonly rowOf = new Map<string, number>();

  constructor(
    readonly dims: number,
    private readonly kernel: VectorKernel,
    initialCapacity = 16,
  ) {
    this.matrix = new Float32Array(Math.max(initialCapacity, 16) * dims);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Approximate memory held. */
  get bytes(): number {
    return this.matrix.byteLength + this.ids.length * ITEM_OVERHEAD_BYTES;
  }

  private ensureCapacity(rows: number): void {
    if (rows * this.dims <= this.matrix.length) return;
    let capacity = Math.max(16, this.matrix.length / this.dims);
    while (capacity < rows) capacity *= 2;
    const grown = new Float32Array(capacity * this.dims);
    grown.set(this.matrix.subarray(0, this.size * this.dims));
    this.matrix = grown;
  }

  /** Appends a row whose vector is a Float32 LE BLOB of an already normalised vector. */
  addBlob(id: string, blob: Uint8Array): void {
    if (this.rowOf.has(id)) return;
    const row = this.size;
    this.ensureCapacity(row + 1);
    blobIntoVector(blob, this.matrix, row * this.dims);
    this.ids.push(id);
    this.rowOf.set(id, row);
  }

  /** Appends or replaces a row with an already normalised vector. */
  upsert(id: string, vector: Float32Array): void {
    let row = this.rowOf.get(id);
    if (row === undefined) {
      row = this.size;
      this.ensureCapacity(row + 1);
      this.ids.push(id);
      this.rowOf.set(id, row);
    }
    this.matrix.set(vector, row * this.dims);
  }

  /** Removes a row by moving the last row into its place. */
  remove(id: string): void {
    const row = this.rowOf.get(id);
    if (row === undefined) return;
    const last = this.size - 1;
    if (row !== last) {
      this.matrix.copyWithin(row * this.dims, last * this.dims, (last + 1) * this.dims);
      this.ids[row] = this.ids[last];
      this.rowOf.set(this.ids[row], row);
    }
    this.ids.pop();
    this.rowOf.delete(id);
  }

  /** The vector of an id (a view into the matrix: copy it to keep it). */
  vectorOf(id: string): Float32Array | undefined {
    const row = this.rowOf.get(id);
    return row === undefined
      ? undefined
      : this.matrix.subarray(row * this.dims, (row + 1) * this.dims);
  }

  /** Cosine similarity (dot product of unit vectors) of a normalised query to one id. */
  similarity(id: string, query: Float32Array): number | undefined {
    const row = this.rowOf.get(id);
    return row === undefined ? undefined : dotAt(this.matrix, row, query, this.dims);
  }

  /**
   * Exact top-K by dot product among the rows `accept` lets through. The check runs only for
   * rows that would enter the top-K, which gives the same result as filtering first.
   */
  search(
    query: Float32Array,
    topK: number,
    accept?: (id: string) => boolean,
  ): { id: string; score: number }[] {
    if (topK <= 0 || this.size === 0) return [];
    if (!accept) {
      const { rows, scores } = this.kernel.exact(this.matrix, this.size, this.dims, query, topK);
      return rows.map((row, i) => ({ id: this.ids[row], score: scores[i] }));
    }
    const heap = new TopK(Math.min(topK, this.size));
    const { matrix, dims } = this;
    for (let row = 0; row < this.size; row++) {
      const score = dotAt(matrix, row, query, dims);
      if (heap.full && score <= heap.min) continue;
      if (!accept(this.ids[row])) continue;
      heap.push(score, row);
    }
    return heap.sorted().map(({ row, score }) => ({ id: this.ids[row], score }));
  }
}

/** What the cache keeps per query scope. */
export interface CachedScope {
  readonly scope: MemoryScope;
  /** Approximate memory held. */
  readonly bytes: number;
  /** Called when the entry leaves the cache. */
  dispose?(): void;
}

/** Per-query-scope search state with least-recently-used eviction under a byte budget. */
export class VectorCache<Entry extends CachedScope = CachedScope> {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly budgetBytes: number) {}

  /** Returns the entry and marks it as most recently used. */
  get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: Entry): void {
    const previous = this.entries.get(key);
    if (previous !== entry) previous?.dispose?.();
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.evict();
  }

  /** Every cached entry, least recently used first. */
  values(): IterableIterator<Entry> {
    return this.entries.values();
  }

  /** Entries whose query scope sees memories of `owner`. */
  *containing(owner: MemoryScope): Generator<Entry> {
    for (const entry of this.entries.values()) {
      if (scopeContains(entry.scope, owner)) yield entry;
    }
  }

  get totalBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.bytes;
    return total;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops least recently used entries until the budget holds. */
  evict(): void {
    let total = this.totalBytes;
    for (const [key, entry] of this.entries) {
      if (total <= this.budgetBytes) break;
      this.entries.delete(key);
      entry.dispose?.();
      total -= entry.bytes;
    }
  }

  /** Drops one entry. */
  delete(key: string): void {
    this.entries.get(key)?.dispose?.();
    this.entries.delete(key);
  }

  clear(): void {
    for (const entry of this.entries.values()) entry.dispose?.();
    this.entries.clear();
  }
}
