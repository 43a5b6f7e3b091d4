import { porterStem } from "./porter_stemmer.js";
import { TopK } from "./top_k.js";

/** Words too common to help a keyword search (dropped unless the text has nothing else). */
const STOP_WORDS = new Set(
  (
    "a an and are as at be been but by did do does for from had has have he her his i if in into is " +
    "it its me my of on or our she so than that the their them then there these they this to was " +
    "we were what when where which who whom why will with you your"
  ).split(" "),
);
const NON_ASCII = /[^\p{ASCII}]/u;
const ASCII_WORD = /[a-z0-9]+/g;
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
const LATIN_DIACRITICS = /(?<=[a-zA-Z])[\u0300-\u036f]+/g;
const MAX_QUERY_TERMS = 64;
/** Stems remembered across calls (the vocabulary of a store is far smaller than its text). */
const STEM_CACHE_LIMIT = 200_000;
const stems = new Map<string, string>();

function stemOf(word: string): string {
  let stem = stems.get(word);
  if (stem === undefined) {
    stem = STOP_WORDS.has(word) ? word : porterStem(word);
    if (stems.size >= STEM_CACHE_LIMIT) stems.clear();
    stems.set(word, stem);
  }
  return stem;
}

/**
 * The index terms of a text: NFKC, Latin diacritics removed, lower case, letter/digit runs,
 * stop words dropped (unless the text has no other word), Porter stems. Repeated words give
 * repeated terms.
 */
export function textTerms(text: string): string[] {
  const words = !NON_ASCII.test(text)
    ? text.toLowerCase().match(ASCII_WORD)
    : text
        .normalize("NFKD")
        // Latin diacritics only ("Zürich" matches "zurich"); marks of other scripts stay.
        .replace(LATIN_DIACRITICS, "")
        .normalize("NFKC")
        .toLowerCase()
        .match(WORD);
  if (!words) return [];
  const terms: string[] = [];
  for (const word of words) if (!STOP_WORDS.has(word)) terms.push(stemOf(word));
  return terms.length > 0 ? terms : words;
}

/** BM25 term-frequency saturation (the usual value). */
const K1 = 1.2;
/**
 * BM25 length normalisation, off: memories are short statements whose length says little
 * about relevance, and the usual 0.75 favours one-word turns (LoCoMo in bench/: MRR .47 at
 * 0.75, .50 at 0).
 */
const B = 0;
/**
 * A term found in more than this share of the scope's memories is left out of the query when
 * rarer terms are present: its idf is under 0.5 (rare terms reach 10) while its postings are
 * what scoring spends its time on.
 */
export const COMMON_TERM_SHARE = 0.5;
/** Dead postings tolerated, as a share of all postings, before the lists are compacted. */
const MAX_DEAD_SHARE = 0.25;

/**
 * The documents containing a term: document numbers and counts at `start` of two arrays,
 * which a restored index shares between all its terms (no array per term to create at start)
 * and a term copies into its own growable arrays on its first new document.
 */
class Postings {
  docs: Int32Array;
  counts: Uint16Array;
  start = 0;
  length = 0;
  /** Live documents containing the term. */
  df = 0;
  /** The largest count in the list (an upper bound once documents are removed); -1 until asked. */
  private maxCount = -1;
  /** False while the arrays are a restored index's, shared with other terms. */
  private owned = true;

  constructor(capacity = 4) {
    this.docs = new Int32Array(capacity);
    this.counts = new Uint16Array(capacity);
  }

  /** Postings `[start, start + length)` of shared arrays. */
  static shared(docs: Int32Array, counts: Uint16Array, start: number, length: number): Postings {
    const list = new Postings(0);
    list.docs = docs;
    list.counts = counts;
    list.start = start;
    list.length = list.df = length;
    list.owned = false;
    return list;
  }

  push(doc: number, count: number): void {
    if (!this.owned || this.length === this.docs.length) {
      const capacity = Math.max(4, this.length * 2);
      const docs = new Int32Array(capacity);
      docs.set(this.docs.subarray(this.start, this.start + this.length));
      const counts = new Uint16Array(capacity);
      counts.set(this.counts.subarray(this.start, this.start + this.length));
      this.docs = docs;
      this.counts = counts;
      this.start = 0;
      this.owned = true;
    }
    this.docs[this.length] = doc;
    this.counts[this.length++] = Math.min(count, 0xffff);
    this.df++;
    if (this.maxCount >= 0) this.maxCount = Math.max(this.maxCount, Math.min(count, 0xffff));
  }

  highestCount(): number {
    if (this.maxCount < 0) {
      let highest = 0;
      for (let i = this.start; i < this.start + this.length; i++) {
        highest = Math.max(highest, this.counts[i]);
      }
      this.maxCount = highest;
    }
    return this.maxCount;
  }

  /** Position of `doc` at or after `from` (documents are ascending), or -1. */
  find(doc: number, from: number): number {
    let low = from;
    let high = this.start + this.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const found = this.docs[middle];
      if (found === doc) return middle;
      if (found < doc) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}

/** One keyword hit: the memory id and its BM25 score divided by the query's best possible. */
export interface KeywordHit {
  id: string;
  score: number;
  /** The memory's document number (its row in a restored index's saved order). */
  doc: number;
}

/**
 * The terms of a restored index, looked up by binary search over their sorted UTF-8 bytes
 * until first used: a restart parses no vocabulary and creates no object per term.
 */
interface SavedTerms {
  /** Term `i` is `text[offsets[i], offsets[i + 1])`. */
  text: Buffer;
  offsets: Uint32Array;
  /** Postings of term `i`: `[starts[i], starts[i] + sizes[i])` of `docs` and `counts`. */
  starts: Uint32Array;
  sizes: Uint32Array;
  docs: Int32Array;
  counts: Uint16Array;
}

/** The postings of saved term `at`, in the saved arrays. */
function savedPostings(terms: SavedTerms, at: number): Postings {
  return Postings.shared(terms.docs, terms.counts, terms.starts[at], terms.sizes[at]);
}

function findTerm(terms: SavedTerms, term: string): number {
  const key = Buffer.from(term, "utf8");
  let low = 0;
  let high = terms.sizes.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const order = Buffer.compare(
      key,
      terms.text.subarray(terms.offsets[middle], terms.offsets[middle + 1]),
    );
    if (order === 0) return middle;
    if (order < 0) high = middle - 1;
    else low = middle + 1;
  }
  return -1;
}

/** Term counts of a text, as the index stores them. */
function countTerms(text: string): { counts: Map<string, number>; length: number } {
  const terms = textTerms(text);
  const counts = new Map<string, number>();
  for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
  return { counts, length: terms.length };
}

/**
 * An in-memory BM25 index over the memories of one query scope. Every statistic (document
 * count, average length, document frequencies) comes from this scope alone, so another
 * user's memories can neither change a scope's ranking nor prune its query terms.
 */
export class KeywordIndex {
  private postings = new Map<string, Postings>();
  /** Terms of a restored index not yet in `postings`. */
  private saved?: SavedTerms;
  /** Document of each id, built at the first write of a restored index. */
  private docOfId?: Map<string, number>;
  private ids: (string | undefined)[] = [];
  private lengths: number[] | Int32Array = [];
  private live = 0;
  private totalLength = 0;
  private deadPostings = 0;
  private totalPostings = 0;
  private scores = new Float64Array(0);

  /** Live documents. */
  get size(): number {
    return this.live;
  }

  /** Approximate bytes held (postings, per-document arrays). */
  get bytes(): number {
    const terms = this.postings.size + (this.saved?.sizes.length ?? 0);
    return this.totalPostings * 6 + terms * 120 + this.ids.length * 80;
  }

  /** Ids by document number (live ones; a restored index has no removed documents). */
  get documentIds(): readonly (string | undefined)[] {
    return this.ids;
  }

  /**
   * The document of each id, for a write: a restored index first builds it and turns its
   * saved lengths into a growable array.
   */
  private writableDocs(): Map<string, number> {
    if (!this.docOfId) {
      this.docOfId = new Map();
      this.ids.forEach((id, doc) => id !== undefined && this.docOfId!.set(id, doc));
    }
    if (!Array.isArray(this.lengths)) this.lengths = Array.from(this.lengths);
    return this.docOfId;
  }

  /** The postings of a term, taken from the saved terms on first use. */
  private list(term: string): Postings | undefined {
    const found = this.postings.get(term);
    if (found || !this.saved) return found;
    const at = findTerm(this.saved, term);
    if (at < 0) return undefined;
    const list = savedPostings(this.saved, at);
    this.postings.set(term, list);
    return list;
  }

  /** Moves every saved term into `postings` (before compacting or saving). */
  private takeSavedTerms(): void {
    const saved = this.saved;
    if (!saved) return;
    for (let at = 0; at < saved.sizes.length; at++) {
      const term = saved.text.toString("utf8", saved.offsets[at], saved.offsets[at + 1]);
      if (!this.postings.has(term)) this.postings.set(term, savedPostings(saved, at));
    }
    this.saved = undefined;
  }

  /** Adds the text of a memory that is not in the index. */
  add(id: string, text: string): void {
    const { counts, length } = countTerms(text);
    const docOf = this.writableDocs();
    const doc = this.ids.length;
    this.ids.push(id);
    (this.lengths as number[]).push(length);
    docOf.set(id, doc);
    this.live++;
    this.totalLength += length;
    for (const [term, count] of counts) {
      let list = this.list(term);
      if (!list) this.postings.set(term, (list = new Postings()));
      list.push(doc, count);
      this.totalPostings++;
    }
  }

  /** Removes a memory; `text` is the text it was indexed with. */
  remove(id: string, text: string): void {
    const docOf = this.writableDocs();
    const doc = docOf.get(id);
    if (doc === undefined) return;
    docOf.delete(id);
    const { counts } = countTerms(text);
    for (const term of counts.keys()) {
      const list = this.list(term);
      if (list) list.df--;
      this.deadPostings++;
    }
    this.ids[doc] = undefined;
    this.live--;
    this.totalLength -= this.lengths[doc];
    if (this.deadPostings > this.totalPostings * MAX_DEAD_SHARE) this.compact();
  }

  /** Rebuilds the postings without removed documents, renumbering the live ones. */
  private compact(): void {
    this.takeSavedTerms();
    const docOf = this.writableDocs();
    const renumber = new Int32Array(this.ids.length).fill(-1);
    const ids: string[] = [];
    const lengths: number[] = [];
    this.ids.forEach((id, doc) => {
      if (id === undefined) return;
      renumber[doc] = ids.length;
      docOf.set(id, ids.length);
      ids.push(id);
      lengths.push(this.lengths[doc]);
    });
    const postings = new Map<string, Postings>();
    let total = 0;
    for (const [term, list] of this.postings) {
      if (list.df <= 0) continue;
      const kept = new Postings(list.df);
      for (let i = list.start; i < list.start + list.length; i++) {
        const doc = renumber[list.docs[i]];
        if (doc >= 0) kept.push(doc, list.counts[i]);
      }
      postings.set(term, kept);
      total += kept.length;
    }
    this.postings = postings;
    this.ids = ids;
    this.lengths = lengths;
    this.totalPostings = total;
    this.deadPostings = 0;
  }

  /**
   * The best `topK` memories for the query by BM25, each score divided by the best score the
   * query can reach in this scope (every kept query term once, in a document of average
   * length), capped at 1: a memory matching only a weak term scores near 0, one matching the
   * query's rare terms near 1. `accept` filters candidates (checked only for would-be hits).
   */
  search(query: string, topK: number, accept?: (id: string) => boolean): KeywordHit[] {
    if (topK <= 0 || this.live === 0) return [];
    const found: Postings[] = [];
    for (const term of new Set(textTerms(query).slice(0, MAX_QUERY_TERMS))) {
      const list = this.list(term);
      if (list && list.df > 0) found.push(list);
    }
    if (found.length === 0) return [];
    found.sort((a, b) => a.df - b.df);
    const common = this.live * COMMON_TERM_SHARE;
    const kept = found.filter((list, i) => i === 0 || list.df <= common);
    const average = this.totalLength / this.live;
    if (this.scores.length < this.ids.length) {
      this.scores = new Float64Array(Math.max(this.ids.length, this.scores.length * 2));
    }
    const { scores, ids, lengths } = this;
    const idfs = kept.map((list) => Math.log(1 + (this.live - list.df + 0.5) / (list.df + 0.5)));
    const best = idfs.reduce((sum, idf) => sum + idf, 0);
    // What the lists from `t` on can add to a document at most (BM25 grows with the count
    // and is largest for the shortest document).
    const remaining = new Float64Array(kept.length + 1);
    for (let t = kept.length - 1; t >= 0; t--) {
      const count = kept[t].highestCount();
      remaining[t] = remaining[t + 1] + (idfs[t] * count * (K1 + 1)) / (count + K1 * (1 - B));
    }
    const contribution = (t: number, at: number, doc: number) => {
      const tf = kept[t].counts[at];
      const norm = K1 * (1 - B + (B * lengths[doc]) / average);
      return (idfs[t] * tf * (K1 + 1)) / (tf + norm);
    };
    const touched: number[] = [];
    for (let t = 0; t < kept.length; t++) {
      // MaxScore: once the K-th best score reaches what the remaining (more common) terms can
      // add, no document they alone contain can rank; only documents that can still pass the
      // K-th are completed, by lookups instead of a scan of those long lists. Not with a
      // filter, whose rejections could leave fewer than K above that score.
      if (!accept && t > 0 && touched.length >= topK) {
        const kth = kthLargest(scores, touched, topK);
        if (kth >= remaining[t]) {
          const open = touched
            .filter((doc) => scores[doc] + remaining[t] > kth)
            .sort((a, b) => a - b);
          for (let u = t; u < kept.length; u++) {
            let from = kept[u].start;
            for (const doc of open) {
              const at = kept[u].find(doc, from);
              if (at < 0) continue;
              from = at + 1;
              scores[doc] += contribution(u, at, doc);
            }
          }
          break;
        }
      }
      const { docs, start, length } = kept[t];
      for (let i = start; i < start + length; i++) {
        const doc = docs[i];
        if (ids[doc] === undefined) continue;
        if (scores[doc] === 0) touched.push(doc);
        scores[doc] += contribution(t, i, doc);
      }
    }
    const heap = new TopK(Math.min(topK, touched.length));
    for (const doc of touched) {
      const score = scores[doc];
      scores[doc] = 0;
      if (heap.full && score <= heap.min) continue;
      if (accept && !accept(ids[doc]!)) continue;
      heap.push(score, doc);
    }
    return heap.sorted().map(({ row, score }) => ({
      id: ids[row]!,
      score: Math.min(1, score / best),
      doc: row,
    }));
  }

  /**
   * The index as bytes (live documents only, terms in UTF-8 byte order), read back by
   * {@link KeywordIndex.fromBytes} without tokenising any text or parsing the vocabulary.
   */
  toBytes(): Buffer {
    this.takeSavedTerms();
    if (this.live !== this.ids.length) this.compact();
    const terms = [...this.postings.entries()]
      .filter(([, list]) => list.df > 0)
      .map(([term, list]) => ({ text: Buffer.from(term, "utf8"), list }))
      .sort((a, b) => Buffer.compare(a.text, b.text));
    const ids = Buffer.from(JSON.stringify(this.ids), "utf8");
    const offsets = new Uint32Array(terms.length + 1);
    const sizes = new Uint32Array(terms.length);
    let total = 0;
    terms.forEach(({ text, list }, i) => {
      offsets[i + 1] = offsets[i] + text.length;
      sizes[i] = list.length;
      total += list.length;
    });
    const docs = new Int32Array(total);
    const counts = new Uint16Array(total + (total % 2));
    let at = 0;
    for (const { list } of terms) {
      docs.set(list.docs.subarray(list.start, list.start + list.length), at);
      counts.set(list.counts.subarray(list.start, list.start + list.length), at);
      at += list.length;
    }
    const lead = new Uint32Array([ids.length, this.ids.length, terms.length, total]);
    return Buffer.concat([
      bytesOf(lead),
      ids,
      Buffer.alloc((4 - (ids.length % 4)) % 4),
      bytesOf(Int32Array.from(this.lengths)),
      bytesOf(offsets),
      bytesOf(sizes),
      bytesOf(docs),
      bytesOf(counts),
      ...terms.map(({ text }) => text),
    ]);
  }

  /**
   * An index written by {@link KeywordIndex.toBytes}. Its arrays are views of `bytes` (which
   * must then stay unchanged) when they are aligned, copies otherwise.
   */
  static fromBytes(bytes: Buffer): KeywordIndex {
    const [idsLength, count, termCount, total] = [0, 4, 8, 12].map((at) => bytes.readUInt32LE(at));
    const ids = JSON.parse(bytes.toString("utf8", 16, 16 + idsLength)) as string[];
    let at = 16 + idsLength + ((4 - (idsLength % 4)) % 4);
    const take = <T>(
      make: (buffer: ArrayBufferLike, offset: number, length: number) => T,
      size: number,
      length: number,
    ): T => {
      const byteLength = size * length;
      const offset = bytes.byteOffset + at;
      at += byteLength;
      if (offset % size === 0) return make(bytes.buffer, offset, length);
      return make(bytes.buffer.slice(offset, offset + byteLength), 0, length);
    };
    const index = new KeywordIndex();
    index.ids = ids;
    index.lengths = take((b, o, n) => new Int32Array(b, o, n), 4, count);
    const offsets = take((b, o, n) => new Uint32Array(b, o, n), 4, termCount + 1);
    const sizes = take((b, o, n) => new Uint32Array(b, o, n), 4, termCount);
    const docs = take((b, o, n) => new Int32Array(b, o, n), 4, total);
    const counts = take((b, o, n) => new Uint16Array(b, o, n), 2, total + (total % 2));
    const starts = new Uint32Array(termCount);
    for (let i = 1; i < termCount; i++) starts[i] = starts[i - 1] + sizes[i - 1];
    index.saved = {
      text: bytes.subarray(at, at + offsets[termCount]),
      offsets,
      starts,
      sizes,
      docs,
      counts,
    };
    index.live = count;
    for (let doc = 0; doc < count; doc++) index.totalLength += index.lengths[doc];
    index.totalPostings = total;
    return index;
  }
}

/** The `k`-th largest score among the touched documents. */
function kthLargest(scores: Float64Array, touched: number[], k: number): number {
  const heap = new TopK(k);
  for (const doc of touched) {
    const score = scores[doc];
    if (!heap.full || score > heap.min) heap.push(score, doc);
  }
  return heap.min;
}

function bytesOf(array: ArrayBufferView): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}
