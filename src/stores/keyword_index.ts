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
    return list;
  }

  push(doc: number, count: number): void {
    if (this.start !== 0 || this.length === this.docs.length) {
      const capacity = Math.max(4, this.length * 2);
      const docs = new Int32Array(capacity);
      docs.set(this.docs.subarray(this.start, this.start + this.length));
      const counts = new Uint16Array(capacity);
      counts.set(this.counts.subarray(this.start, this.start + this.length));
      this.docs = docs;
      this.counts = counts;
      this.start = 0;
    }
    this.docs[this.length] = doc;
    this.counts[this.length++] = Math.min(count, 0xffff);
    this.df++;
  }
}

/** One keyword hit: the memory id and its BM25 score divided by the query's best possible. */
export interface KeywordHit {
  id: string;
  score: number;
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
  private readonly docOf = new Map<string, number>();
  private ids: (string | undefined)[] = [];
  private lengths: number[] = [];
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
    return this.totalPostings * 6 + this.postings.size * 120 + this.ids.length * 80;
  }

  /** Adds the text of a memory that is not in the index. */
  add(id: string, text: string): void {
    const { counts, length } = countTerms(text);
    const doc = this.ids.length;
    this.ids.push(id);
    this.lengths.push(length);
    this.docOf.set(id, doc);
    this.live++;
    this.totalLength += length;
    for (const [term, count] of counts) {
      let list = this.postings.get(term);
      if (!list) this.postings.set(term, (list = new Postings()));
      list.push(doc, count);
      this.totalPostings++;
    }
  }

  /** Removes a memory; `text` is the text it was indexed with. */
  remove(id: string, text: string): void {
    const doc = this.docOf.get(id);
    if (doc === undefined) return;
    this.docOf.delete(id);
    const { counts } = countTerms(text);
    for (const term of counts.keys()) {
      const list = this.postings.get(term);
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
    const renumber = new Int32Array(this.ids.length).fill(-1);
    const ids: string[] = [];
    const lengths: number[] = [];
    this.ids.forEach((id, doc) => {
      if (id === undefined) return;
      renumber[doc] = ids.length;
      this.docOf.set(id, ids.length);
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
      const list = this.postings.get(term);
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
    const touched: number[] = [];
    let best = 0;
    for (const list of kept) {
      const idf = Math.log(1 + (this.live - list.df + 0.5) / (list.df + 0.5));
      best += idf;
      const { docs, counts, start } = list;
      for (let i = start; i < start + list.length; i++) {
        const doc = docs[i];
        if (ids[doc] === undefined) continue;
        const tf = counts[i];
        const norm = K1 * (1 - B + (B * lengths[doc]) / average);
        if (scores[doc] === 0) touched.push(doc);
        scores[doc] += (idf * tf * (K1 + 1)) / (tf + norm);
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
    }));
  }

  /**
   * The index as bytes (live documents only), read back by {@link KeywordIndex.fromBytes}
   * without tokenising any text again.
   */
  toBytes(): Buffer {
    if (this.live !== this.ids.length) this.compact();
    const terms = [...this.postings.keys()];
    const header = Buffer.from(
      JSON.stringify({ ids: this.ids, lengths: this.lengths, terms }),
      "utf8",
    );
    const sizes = new Int32Array(terms.length);
    terms.forEach((term, i) => (sizes[i] = this.postings.get(term)!.length));
    const docs = new Int32Array(this.totalPostings);
    const counts = new Uint16Array(this.totalPostings + (this.totalPostings % 2));
    let at = 0;
    for (const term of terms) {
      const list = this.postings.get(term)!;
      docs.set(list.docs.subarray(list.start, list.start + list.length), at);
      counts.set(list.counts.subarray(list.start, list.start + list.length), at);
      at += list.length;
    }
    const lead = Buffer.alloc(8);
    lead.writeUInt32LE(header.length, 0);
    lead.writeUInt32LE(this.totalPostings, 4);
    const pad = Buffer.alloc((4 - (header.length % 4)) % 4);
    return Buffer.concat([
      lead,
      header,
      pad,
      Buffer.from(sizes.buffer),
      Buffer.from(docs.buffer),
      Buffer.from(counts.buffer),
    ]);
  }

  /** An index written by {@link KeywordIndex.toBytes}. */
  static fromBytes(bytes: Buffer): KeywordIndex {
    const headerLength = bytes.readUInt32LE(0);
    const total = bytes.readUInt32LE(4);
    const { ids, lengths, terms } = JSON.parse(bytes.toString("utf8", 8, 8 + headerLength)) as {
      ids: string[];
      lengths: number[];
      terms: string[];
    };
    // Copied into aligned buffers: the file's bytes may sit at any offset.
    let at = 8 + headerLength + ((4 - (headerLength % 4)) % 4);
    const copy = (byteLength: number) => {
      const out = new ArrayBuffer(byteLength);
      new Uint8Array(out).set(bytes.subarray(at, at + byteLength));
      at += byteLength;
      return out;
    };
    const sizes = new Int32Array(copy(terms.length * 4));
    const docs = new Int32Array(copy(total * 4));
    const counts = new Uint16Array(copy((total + (total % 2)) * 2));
    const index = new KeywordIndex();
    index.ids = ids;
    index.lengths = lengths;
    ids.forEach((id, doc) => index.docOf.set(id, doc));
    index.live = ids.length;
    index.totalLength = lengths.reduce((sum, length) => sum + length, 0);
    index.totalPostings = total;
    let offset = 0;
    terms.forEach((term, i) => {
      index.postings.set(term, Postings.shared(docs, counts, offset, sizes[i]));
      offset += sizes[i];
    });
    return index;
  }
}
