import type { MemoryMetadata } from "../backends/base.js";
import type { MemoryScope } from "../scope.js";
import { matchesFilter, type MetadataFilter } from "./filters.js";
import { KeywordIndex, type KeywordHit } from "./keyword_index.js";
import { ScopeVectors, type CachedScope } from "./vector_cache.js";
import { dotAt, type ApproximateIndex, type VectorKernel } from "./vector_index.js";

/** Candidates an approximate search fetches per wanted hit before exact re-scoring. */
const CANDIDATES_PER_HIT = 2;
const MIN_CANDIDATES = 40;
/** Per-memory maps (row key, metadata) in bytes, for the cache budget. */
const ROW_OVERHEAD_BYTES = 120;
/** Marks a saved scope state (and its layout version). */
const STATE_MAGIC = 0x31737153;

/** Where a scope's index reads what it does not keep in memory. */
export interface ScopeRowSource {
  /** Unit vectors of rows, by row key (`seq`). */
  embeddings(seqs: number[]): Map<number, Float32Array>;
  /** Every vector of the scope as `[seq, id, Float32 LE blob]`. */
  vectors(): Iterable<[number, string, Uint8Array]>;
  /** Every memory of the scope as `[id, metadata JSON]`. */
  metadata(): Iterable<[string, string]>;
}

/**
 * The search state of one query scope: a BM25 keyword index with the scope's own statistics,
 * and its vectors, either all in memory for exact search (small scopes) or in an approximate
 * index whose candidates are re-scored exactly (large scopes; the matrix is then loaded only
 * when a metadata filter needs an exact scan).
 */
export class ScopeIndex implements CachedScope {
  private keywords = new KeywordIndex();
  /** Raw JSON until a filter first needs it, then the parsed object. */
  private readonly metadata = new Map<string, string | MemoryMetadata>();
  /** False for a restored scope until a filter needs metadata (then read from the rows). */
  private metadataLoaded = true;
  private readonly seqOf = new Map<string, number>();
  private readonly idOf = new Map<number, string>();
  /**
   * A restored scope's rows until it is first written: row keys in the keyword index's
   * document order (sharing its ids) and the documents sorted by row key. Reads look rows up
   * here, so a restart builds no map; the first write builds `seqOf` and `idOf`.
   */
  private saved?: { ids: readonly (string | undefined)[]; seqs: Float64Array; bySeq: Int32Array };
  /** Row keys of the ids a restored scope's searches returned (their neighbours are asked next). */
  private readonly hitSeqs = new Map<string, number>();
  private vectors?: ScopeVectors;
  /** Writes applied since the state was last saved (or loaded). */
  changesSinceSave = 0;
  /** Row keys in insertion order, built when neighbours are first asked for. */
  private order?: number[];
  private approximate?: ApproximateIndex;

  constructor(
    readonly scope: MemoryScope,
    readonly dims: number,
    private readonly kernel: VectorKernel,
    private readonly source: ScopeRowSource,
    /**
     * The approximate index, or for exact search the expected number of rows, or `"unloaded"`
     * when the index ({@link ScopeIndex.useIndex}) or the vectors come after.
     */
    mode: ApproximateIndex | { exact: number } | "unloaded",
  ) {
    if (mode === "unloaded") return;
    if ("exact" in mode) this.vectors = new ScopeVectors(dims, kernel, mode.exact);
    else this.approximate = mode;
  }

  get size(): number {
    return this.saved ? this.saved.seqs.length : this.seqOf.size;
  }

  get bytes(): number {
    return (
      this.keywords.bytes +
      this.size * ROW_OVERHEAD_BYTES +
      (this.vectors?.bytes ?? 0) +
      (this.approximate?.bytes ?? 0)
    );
  }

  /** The approximate index, when this scope searches through one. */
  get index(): ApproximateIndex | undefined {
    return this.approximate;
  }

  /** Sets the approximate index of a scope created `"unloaded"` (every vector of it). */
  useIndex(index: ApproximateIndex): void {
    this.approximate = index;
    this.changesSinceSave = 0;
  }

  /** Adds a stored row while loading; `blob` is its vector when vectors are kept in memory. */
  load(seq: number, id: string, text: string, metadata: string, blob?: Uint8Array): void {
    this.seqOf.set(id, seq);
    this.idOf.set(seq, id);
    this.metadata.set(id, metadata);
    this.keywords.add(id, text);
    if (blob && this.vectors) this.vectors.addBlob(id, blob);
  }

  /** A committed insert, or update (`previous` is the text before it). */
  upsert(
    seq: number,
    id: string,
    text: string,
    metadata: MemoryMetadata,
    vector: Float32Array,
    previous?: string,
  ): void {
    this.buildMaps();
    if (previous !== undefined) this.keywords.remove(id, previous);
    if (this.order && !this.seqOf.has(id)) {
      // New rows get the highest row key of the table, so appending keeps the order.
      if (seq > (this.order[this.order.length - 1] ?? -1)) this.order.push(seq);
      else this.order = undefined;
    }
    this.seqOf.set(id, seq);
    this.idOf.set(seq, id);
    this.metadata.set(id, metadata);
    this.keywords.add(id, text);
    this.vectors?.upsert(id, vector);
    this.approximate?.upsert(seq, vector);
    this.changesSinceSave++;
  }

  /** A committed delete of a memory whose text was `text`. */
  remove(id: string, text: string): void {
    this.buildMaps();
    const seq = this.seqOf.get(id);
    if (seq === undefined) return;
    this.seqOf.delete(id);
    this.idOf.delete(seq);
    this.metadata.delete(id);
    this.keywords.remove(id, text);
    const order = this.order;
    if (order) {
      const at = lowerBound(order.length, (i) => order[i], seq);
      if (order[at] === seq) order.splice(at, 1);
    }
    this.vectors?.remove(id);
    this.approximate?.remove(seq);
    this.changesSinceSave++;
  }

  has(id: string): boolean {
    return this.seqOfId(id) !== undefined;
  }

  /** Turns a restored scope's saved rows into the maps that writes keep up to date. */
  private buildMaps(): void {
    const saved = this.saved;
    if (!saved) return;
    saved.ids.forEach((id, doc) => {
      this.seqOf.set(id!, saved.seqs[doc]);
      this.idOf.set(saved.seqs[doc], id!);
    });
    this.saved = undefined;
    this.hitSeqs.clear();
  }

  private seqOfId(id: string): number | undefined {
    if (this.saved) {
      const seq = this.hitSeqs.get(id);
      if (seq !== undefined) return seq;
      this.buildMaps();
    }
    return this.seqOf.get(id);
  }

  private idOfSeq(seq: number): string | undefined {
    const saved = this.saved;
    if (!saved) return this.idOf.get(seq);
    const { seqs, bySeq, ids } = saved;
    const at = lowerBound(bySeq.length, (i) => seqs[bySeq[i]], seq);
    return at < bySeq.length && seqs[bySeq[at]] === seq ? ids[bySeq[at]] : undefined;
  }

  private metadataOf(id: string): MemoryMetadata {
    if (!this.metadataLoaded) {
      for (const [rowId, json] of this.source.metadata()) {
        if (!this.metadata.has(rowId)) this.metadata.set(rowId, json);
      }
      this.metadataLoaded = true;
    }
    const value = this.metadata.get(id);
    if (typeof value !== "string") return value ?? {};
    const parsed = JSON.parse(value) as MemoryMetadata;
    this.metadata.set(id, parsed);
    return parsed;
  }

  private acceptFor(filter?: MetadataFilter): ((id: string) => boolean) | undefined {
    return filter ? (id) => matchesFilter(this.metadataOf(id), filter) : undefined;
  }

  /** Every vector in memory (loaded on first need in approximate mode, or at a restore). */
  private allVectors(): ScopeVectors {
    if (!this.vectors) {
      this.buildMaps();
      const vectors = new ScopeVectors(this.dims, this.kernel, this.size);
      for (const [, id, blob] of this.source.vectors()) {
        if (this.seqOf.has(id)) vectors.addBlob(id, blob);
      }
      this.vectors = vectors;
    }
    return this.vectors;
  }

  /** Top-K by cosine similarity (exact scores), among memories passing the filter. */
  vectorSearch(
    query: Float32Array,
    topK: number,
    filter?: MetadataFilter,
  ): { id: string; score: number }[] {
    if (topK <= 0 || this.size === 0) return [];
    if (!this.approximate || filter)
      return this.allVectors().search(query, topK, this.acceptFor(filter));
    const seqs = this.approximate.search(
      query,
      Math.max(topK * CANDIDATES_PER_HIT, MIN_CANDIDATES),
    );
    const vectors = this.vectors ? undefined : this.source.embeddings(seqs);
    const hits: { id: string; score: number }[] = [];
    for (const seq of seqs) {
      const id = this.idOfSeq(seq);
      if (id === undefined) continue;
      if (this.saved) this.hitSeqs.set(id, seq);
      const score = this.vectors
        ? this.vectors.similarity(id, query)
        : dot(vectors!.get(seq), query, this.dims);
      if (score !== undefined) hits.push({ id, score });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, topK);
  }

  /** Top-K by BM25 over this scope's statistics, scores in [0, 1] (see {@link KeywordIndex}). */
  keywordSearch(query: string, topK: number, filter?: MetadataFilter): KeywordHit[] {
    const hits = this.keywords.search(query, topK, this.acceptFor(filter));
    const saved = this.saved;
    if (saved) for (const hit of hits) this.hitSeqs.set(hit.id, saved.seqs[hit.doc]);
    return hits;
  }

  /**
   * What this scope's state needs besides its approximate index, as bytes: row keys (in the
   * keyword index's document order, whose ids they share), documents sorted by row key, and
   * the keyword index. Saved with the index, so a large scope starts without reading or
   * tokenising its rows; metadata is read from the rows when a filter first needs it.
   */
  snapshot(): Buffer {
    const keywords = this.keywords.toBytes();
    const ids = this.keywords.documentIds;
    const seqs = Float64Array.from(ids, (id) => this.seqOfId(id!)!);
    const bySeq = Int32Array.from(seqs.keys()).sort((a, b) => seqs[a] - seqs[b]);
    const lead = Buffer.alloc(8);
    lead.writeUInt32LE(STATE_MAGIC, 0);
    lead.writeUInt32LE(ids.length, 4);
    return Buffer.concat([
      lead,
      Buffer.from(seqs.buffer),
      Buffer.from(bySeq.buffer),
      Buffer.alloc(bySeq.byteLength % 8),
      keywords,
    ]);
  }

  /**
   * A scope's state from {@link ScopeIndex.snapshot} and its saved approximate index; without
   * one the scope searches exactly, on vectors read from the rows now.
   */
  static restore(
    bytes: Buffer,
    scope: MemoryScope,
    dims: number,
    kernel: VectorKernel,
    source: ScopeRowSource,
    index?: ApproximateIndex,
  ): ScopeIndex {
    if (bytes.readUInt32LE(0) !== STATE_MAGIC) throw new Error("not a saved scope state");
    const count = bytes.readUInt32LE(4);
    const copy = (from: number, byteLength: number) =>
      bytes.buffer.slice(bytes.byteOffset + from, bytes.byteOffset + from + byteLength);
    const seqs = new Float64Array(copy(8, count * 8));
    const bySeq = new Int32Array(copy(8 + count * 8, count * 4));
    const entry = new ScopeIndex(scope, dims, kernel, source, index ?? "unloaded");
    entry.keywords = KeywordIndex.fromBytes(bytes.subarray(8 + count * 12 + ((count * 4) % 8)));
    if (entry.keywords.documentIds.length !== count) throw new Error("inconsistent scope state");
    entry.saved = { ids: entry.keywords.documentIds, seqs, bySeq };
    entry.metadataLoaded = false;
    if (!index) entry.allVectors();
    return entry;
  }

  /**
   * The memories stored just before and just after each given one in this scope (insertion
   * order): the turns around a turn of a conversation stored verbatim.
   */
  neighbors(ids: string[]): Map<string, string[]> {
    const saved = this.saved;
    this.order ??= saved
      ? Array.from(saved.bySeq, (doc) => saved.seqs[doc])
      : [...this.idOf.keys()].sort((a, b) => a - b);
    const order = this.order;
    const out = new Map<string, string[]>();
    for (const id of ids) {
      const seq = this.seqOfId(id);
      if (seq === undefined) continue;
      const at = lowerBound(order.length, (i) => order[i], seq);
      const around: string[] = [];
      if (at > 0) around.push(this.idOfSeq(order[at - 1])!);
      if (at + 1 < order.length) around.push(this.idOfSeq(order[at + 1])!);
      out.set(id, around);
    }
    return out;
  }

  /** Cosine similarity to a memory of this scope whose vector is in memory. */
  similarity(id: string, query: Float32Array): number | undefined {
    return this.vectors?.similarity(id, query);
  }
}

/** The first of `length` ascending values (`valueAt(i)`) that is not below `value`. */
function lowerBound(length: number, valueAt: (i: number) => number, value: number): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (valueAt(middle) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function dot(vector: Float32Array | undefined, query: Float32Array, dims: number) {
  return vector ? dotAt(vector, 0, query, dims) : undefined;
}
