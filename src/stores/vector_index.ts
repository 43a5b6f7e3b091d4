import type * as Usearch from "usearch";
import nativeRequire from "./native_require.cjs";

/**
 * An approximate nearest-neighbour index over the unit vectors of one scope, keyed by an
 * integer row key. Stores that search elsewhere (pgvector) do not need it.
 */
export interface ApproximateIndex {
  /** Vectors indexed. */
  readonly size: number;
  /** Approximate memory held, in bytes. */
  readonly bytes: number;
  /** Adds a vector, replacing the one stored under the key. */
  upsert(key: number, vector: Float32Array): void;
  /** Adds vectors under new keys (one row of `vectors` per key), using every core. */
  addAll(keys: ArrayLike<number>, vectors: Float32Array): void;
  remove(key: number): void;
  /** Keys of (about) the `k` most similar vectors, most similar first. */
  search(query: Float32Array, k: number): number[];
  /** Writes the index to a file (replacing it). */
  save(file: string): void;
}

/** Where vector search runs: exact top-K over a matrix, and approximate indexes when it has them. */
export interface VectorKernel {
  /** `"usearch"` (native, SIMD) or `"js"`. */
  readonly name: string;
  /**
   * Exact top-K by dot product over the first `rows` vectors of `matrix` (unit vectors, so the
   * dot product is the cosine): row numbers and scores, best first.
   */
  exact(
    matrix: Float32Array,
    rows: number,
    dims: number,
    query: Float32Array,
    k: number,
  ): { rows: number[]; scores: number[] };
  /** A new empty approximate index, or `undefined` when the kernel has none. */
  createIndex?(dims: number): ApproximateIndex;
  /**
   * An approximate index saved by {@link ApproximateIndex.save}; the file must stay until the
   * index's first write (it may be mapped rather than read).
   */
  loadIndex?(file: string, dims: number): ApproximateIndex;
}

/** Dot product of `query` with the vector stored at row `row` of `matrix`. */
export function dotAt(
  matrix: Float32Array,
  row: number,
  query: Float32Array,
  dims: number,
): number {
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

/** HNSW settings: recall ≥ .98 against exact search at 100k memories (see bench/). */
const CONNECTIVITY = 16;
const EXPANSION_ADD = 128;
const EXPANSION_SEARCH = 128;

class UsearchIndex implements ApproximateIndex {
  private readonly key = new BigUint64Array(1);

  /**
   * `viewed` is the file of an index mapped read-only (fast to open); the first write loads it
   * into memory with `load()`.
   */
  constructor(
    private index: Usearch.Index,
    private readonly dims: number,
    private viewed?: { file: string; open: () => Usearch.Index },
  ) {}

  private writable(): Usearch.Index {
    if (this.viewed) {
      const loaded = this.viewed.open();
      loaded.load(this.viewed.file);
      this.index = loaded;
      this.viewed = undefined;
    }
    return this.index;
  }

  get size(): number {
    return this.index.size();
  }

  get bytes(): number {
    // int8 vector plus about two levels of 16 neighbours (4-byte slots) per entry.
    return this.index.capacity() * (this.dims + CONNECTIVITY * 2 * 4 + 64);
  }

  upsert(key: number, vector: Float32Array): void {
    const index = this.writable();
    this.key[0] = BigInt(key);
    if (index.contains(this.key)) index.remove(this.key);
    index.add(this.key, vector, 1);
  }

  addAll(keys: ArrayLike<number>, vectors: Float32Array): void {
    if (keys.length === 0) return;
    this.writable().add(
      BigUint64Array.from(keys, (key) => BigInt(key)),
      vectors,
      0,
    );
  }

  remove(key: number): void {
    this.key[0] = BigInt(key);
    this.writable().remove(this.key);
  }

  search(query: Float32Array, k: number): number[] {
    const size = this.index.size();
    if (size === 0 || k <= 0) return [];
    const { keys } = this.index.search(query, Math.min(k, size), 1);
    const out: number[] = [];
    for (const key of keys) if (key !== 0xffffffffffffffffn) out.push(Number(key));
    return out;
  }

  save(file: string): void {
    this.writable().save(file);
  }
}

function usearchKernel(lib: typeof Usearch): VectorKernel {
  const create = (dims: number) =>
    new lib.Index({
      dimensions: dims,
      metric: lib.MetricKind.Cos,
      quantization: lib.ScalarKind.I8,
      connectivity: CONNECTIVITY,
      expansion_add: EXPANSION_ADD,
      expansion_search: EXPANSION_SEARCH,
      multi: false,
    });
  return {
    name: "usearch",
    exact(matrix, rows, dims, query, k) {
      const count = Math.min(k, rows);
      if (count <= 0) return { rows: [], scores: [] };
      const dataset = matrix.subarray(0, rows * dims);
      const found = lib.exactSearch(dataset, query, dims, count, lib.MetricKind.IP, 1);
      const out = { rows: [] as number[], scores: [] as number[] };
      const { keys } = found as Usearch.Matches;
      for (let i = 0; i < keys.length; i++) {
        const row = Number(keys[i]);
        if (row >= rows) continue;
        out.rows.push(row);
        // Recomputed in JS: the kernel's inner-product distance (1 − dot) rounds differently.
        out.scores.push(dotAt(matrix, row, query, dims));
      }
      return out;
    },
    createIndex(dims) {
      return new UsearchIndex(create(dims), dims);
    },
    loadIndex(file, dims) {
      const index = create(dims);
      // Mapped, not read: a large scope's first search does not wait for the whole file.
      index.view(file);
      if (index.dimensions() !== dims) {
        throw new Error(`index ${file} has ${index.dimensions()} dimensions, expected ${dims}`);
      }
      return new UsearchIndex(index, dims, { file, open: () => create(dims) });
    },
  };
}

/** Exact search in plain JavaScript: the fallback when the native library is unavailable. */
export const jsKernel: VectorKernel = {
  name: "js",
  exact(matrix, rows, dims, query, k) {
    const count = Math.min(k, rows);
    const bestRows = new Int32Array(count);
    const bestScores = new Float64Array(count).fill(Number.NEGATIVE_INFINITY);
    let filled = 0;
    for (let row = 0; row < rows; row++) {
      const score = dotAt(matrix, row, query, dims);
      if (filled === count && score <= bestScores[count - 1]) continue;
      // Insertion into the sorted best list (k is small).
      let i = filled < count ? filled++ : count - 1;
      while (i > 0 && bestScores[i - 1] < score) {
        bestScores[i] = bestScores[i - 1];
        bestRows[i] = bestRows[i - 1];
        i--;
      }
      bestScores[i] = score;
      bestRows[i] = row;
    }
    return {
      rows: Array.from(bestRows.subarray(0, filled)),
      scores: Array.from(bestScores.subarray(0, filled)),
    };
  },
};

let native: VectorKernel | null | undefined;

/**
 * The native kernel (the optional `usearch` package) loaded on first use, or `undefined` when
 * it cannot be loaded (not installed, no binary for this platform): search then stays exact in
 * JavaScript, with the same results.
 */
export function nativeKernel(): VectorKernel | undefined {
  if (native === undefined) {
    try {
      const lib = nativeRequire("usearch") as typeof Usearch;
      // Proves the binary: a tiny exact search.
      lib.exactSearch(new Float32Array([1, 0]), new Float32Array([1, 0]), 2, 1, lib.MetricKind.IP);
      native = usearchKernel(lib);
    } catch {
      native = null;
    }
  }
  return native ?? undefined;
}
