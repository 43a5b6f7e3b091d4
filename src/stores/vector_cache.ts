import type { MemoryMetadata } from "../backends/base.js";
import { scopeContains, type MemoryScope } from "../scope.js";
import { matchesFilter, type MetadataFilter } from "./filters.js";

/** Rough per-item overhead (id string, metadata, map entry) used for the memory budget. */
const ITEM_OVERHEAD_BYTES = 160;

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

/** Dot product of `query` with the vector stored at row `row` of `matrix`. */
function dotAt(matrix: Float32Array, row: number, query: Float32Array, dims: number): number {
  let sum = 0;
  const base = row * dims;
  let i = 0;
  for (; i + 3 < dims; i += 4) {
    sum +=
      matrix[base + i] * query[i] +
      matrix[base + i + 1] * query[i + 1] +
      matrix[base + i + 2] * query[i + 2] +
      matrix[base + i + 3] * query[i + 3];
  }
  for (; i < dims; i++) sum += matrix[base + i] * query[i];
  return sum;
}

/** A bounded min-heap keeping the `k` best (score, row) pairs. */
class TopK {
  private readonly scores: Float64Array;
  private readonly rows: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.rows = new Int32Array(k);
  }

  get full(): boolean {
    return this.size === this.k;
  }

  /** The smallest kept score (only meaningful when full). */
  get min(): number {
    return this.scores[0];
  }

  push(score: number, row: number): void {
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (this.scores[parent] <= score) break;
        this.scores[i] = this.scores[parent];
        this.rows[i] = this.rows[parent];
        i = parent;
      }
      this.scores[i] = score;
      this.rows[i] = row;
      return;
    }
    if (score <= this.scores[0]) return;
    // Replace the root and sift down.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && this.scores[right] < this.scores[left] ? right : left;
      if (this.scores[child] >= score) break;
      this.scores[i] = this.scores[child];
      this.rows[i] = this.rows[child];
      i = child;
    }
    this.scores[i] = score;
    this.rows[i] = row;
  }

  /** Kept pairs, best first. */
  sorted(): { row: number; score: number }[] {
    const out: { row: number; score: number }[] = [];
    for (let i = 0; i < this.size; i++) out.push({ row: this.rows[i], score: this.scores[i] });
    return out.sort((a, b) => b.score - a.score || a.row - b.row);
  }
}

/** One cached scope: normalised vectors in one growable matrix plus parallel ids and metadata. */
export class ScopeVectors {
  private matrix: Float32Array;
  private ids: string[] = [];
  /** Raw JSON until a filter first needs it, then the parsed object. */
  private metadata: (string | MemoryMetadata)[] = [];
  private readonly rowOf = new Map<string, number>();

  constructor(
    readonly scope: MemoryScope,
    readonly dims: number,
    initialCapacity = 16,
  ) {
    this.matrix = new Float32Array(Math.max(initialCapacity, 16) * dims);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Approximate memory held by this entry. */
  get bytes(): number {
    return this.matrix.byteLength + this.ids.length * ITEM_OVERHEAD_BYTES;
  }

  has(id: string): boolean {
    return this.rowOf.has(id);
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
  addBlob(id: string, blob: Uint8Array, metadata: string | MemoryMetadata): void {
    if (this.rowOf.has(id)) return;
    const row = this.size;
    this.ensureCapacity(row + 1);
    blobIntoVector(blob, this.matrix, row * this.dims);
    this.ids.push(id);
    this.metadata.push(metadata);
    this.rowOf.set(id, row);
  }

  /** Appends or replaces a row with an already normalised vector. */
  upsert(id: string, vector: Float32Array, metadata: MemoryMetadata): void {
    let row = this.rowOf.get(id);
    if (row === undefined) {
      row = this.size;
      this.ensureCapacity(row + 1);
      this.ids.push(id);
      this.metadata.push(metadata);
      this.rowOf.set(id, row);
    } else {
      this.metadata[row] = metadata;
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
      this.metadata[row] = this.metadata[last];
      this.rowOf.set(this.ids[row], row);
    }
    this.ids.pop();
    this.metadata.pop();
    this.rowOf.delete(id);
  }

  private metadataAt(row: number): MemoryMetadata {
    const value = this.metadata[row];
    if (typeof value !== "string") return value;
    const parsed = JSON.parse(value) as MemoryMetadata;
    this.metadata[row] = parsed;
    return parsed;
  }

  /** Cosine similarity (dot product of unit vectors) of a normalised query to one id. */
  similarity(id: string, query: Float32Array): number | undefined {
    const row = this.rowOf.get(id);
    return row === undefined ? undefined : dotAt(this.matrix, row, query, this.dims);
  }

  /**
   * Exact top-K by dot product among the rows matching `filter`. The filter is checked only
   * for rows that would enter the top-K, which gives the same result as filtering first.
   */
  search(
    query: Float32Array,
    topK: number,
    filter?: MetadataFilter,
  ): { id: string; score: number }[] {
    if (topK <= 0 || this.size === 0) return [];
    const heap = new TopK(Math.min(topK, this.size));
    const { matrix, dims } = this;
    for (let row = 0; row < this.size; row++) {
      const score = dotAt(matrix, row, query, dims);
      if (heap.full && score <= heap.min) continue;
      if (filter && !matchesFilter(this.metadataAt(row), filter)) continue;
      heap.push(score, row);
    }
    return heap.sorted().map(({ row, score }) => ({ id: this.ids[row], score }));
  }
}

/** Per-query-scope vector caches with least-recently-used eviction under a byte budget. */
export class VectorCache {
  private readonly entries = new Map<string, ScopeVectors>();

  constructor(readonly budgetBytes: number) {}

  /** Returns the entry and marks it as most recently used. */
  get(key: string): ScopeVectors | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: ScopeVectors): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.evict();
  }

  /** Every cached entry, least recently used first. */
  values(): IterableIterator<ScopeVectors> {
    return this.entries.values();
  }

  /** Entries whose query scope sees memories of `owner`. */
  *containing(owner: MemoryScope): Generator<ScopeVectors> {
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
      total -= entry.bytes;
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
