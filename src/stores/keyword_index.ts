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
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
const LATIN_DIACRITICS = /(?<=[a-zA-Z])[\u0300-\u036f]+/g;
const MAX_QUERY_TERMS = 64;
/** Stems remembered across calls (the vocabulary of a store is far smaller than its text). */
const STEM_CACHE_LIMIT = 200_000;
const stems = new Map<string, string>();

function stemOf(word: string): string {
  let stem = stems.get(word);
  if (stem === undefined) {
    stem = porterStem(word);
    if (stems.size >= STEM_CACHE_LIMIT) stems.clear();
    stems.set(word, stem);
  }
  return stem;
}

/**
 * The index terms of a text: NFKC, Latin diacritics removed, lower case, letter/digit runs, stop words dropped (unless
 * the text has no other word), Porter stems. Repeated words give repeated terms.
 */
export function textTerms(text: string): string[] {
  const words =
    text
      .normalize("NFKD")
      // Latin diacritics only ("Zürich" matches "zurich"); marks of other scripts stay.
      .replace(LATIN_DIACRITICS, "")
      .normalize("NFKC")
      .toLowerCase()
      .match(WORD) ?? [];
  const useful = words.filter((word) => !STOP_WORDS.has(word));
  return (useful.length > 0 ? useful : words).map(stemOf);
}

/** BM25 parameters (Robertson's usual values, as SQLite FTS5 uses). */
const K1 = 1.2;
const B = 0.75;
/**
 * A term found in more than this share of the scope's memories is left out of the query when
 * rarer terms are present: its idf is under 0.5 (rare terms reach 10) while its postings are
 * what scoring spends its time on.
 */
const COMMON_TERM_SHARE = 0.5;
/** Dead postings tolerated, as a share of all postings, before the lists are compacted. */
const MAX_DEAD_SHARE = 0.25;

interface Postings {
  docs: number[];
  counts: number[];
  /** Live documents containing the term. */
  df: number;
}

/** One keyword hit: the memory id and its BM25 score divided by the query's best possible. */
export interface KeywordHit {
  id: string;
  score: number;
}

/**
 * An in-memory BM25 index over the memories of one query scope. Every statistic (document
 * count, average length, document frequencies) comes from this scope alone, so another
 * user's memories can neither change a scope's ranking nor prune its query terms.
 */
export class KeywordIndex {
  private readonly postings = new Map<string, Postings>();
  private readonly docOf = new Map<string, number>();
  private ids: (string | undefined)[] = [];
  private lengths: number[] = [];
  /** The distinct terms of each live document (for removals). */
  private terms: (string[] | undefined)[] = [];
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
    return this.totalPostings * 16 + this.ids.length * 80;
  }

  /** Adds or replaces the text of a memory. */
  upsert(id: string, text: string): void {
    this.remove(id);
    const all = textTerms(text);
    const counts = new Map<string, number>();
    for (const term of all) counts.set(term, (counts.get(term) ?? 0) + 1);
    const doc = this.ids.length;
    this.ids.push(id);
    this.lengths.push(all.length);
    this.terms.push([...counts.keys()]);
    this.docOf.set(id, doc);
    this.live++;
    this.totalLength += all.length;
    for (const [term, count] of counts) {
      let list = this.postings.get(term);
      if (!list) this.postings.set(term, (list = { docs: [], counts: [], df: 0 }));
      list.docs.push(doc);
      list.counts.push(count);
      list.df++;
      this.totalPostings++;
    }
  }

  remove(id: string): void {
    const doc = this.docOf.get(id);
    if (doc === undefined) return;
    this.docOf.delete(id);
    for (const term of this.terms[doc] ?? []) {
      const list = this.postings.get(term);
      if (list) list.df--;
      this.deadPostings++;
    }
    this.ids[doc] = undefined;
    this.terms[doc] = undefined;
    this.live--;
    this.totalLength -= this.lengths[doc];
    if (this.deadPostings > this.totalPostings * MAX_DEAD_SHARE) this.compact();
  }

  /** Rebuilds the postings without removed documents, renumbering the live ones. */
  private compact(): void {
    const renumber = new Int32Array(this.ids.length).fill(-1);
    const ids: (string | undefined)[] = [];
    const lengths: number[] = [];
    const terms: (string[] | undefined)[] = [];
    this.ids.forEach((id, doc) => {
      if (id === undefined) return;
      renumber[doc] = ids.length;
      this.docOf.set(id, ids.length);
      ids.push(id);
      lengths.push(this.lengths[doc]);
      terms.push(this.terms[doc]);
    });
    let total = 0;
    for (const [term, list] of this.postings) {
      const docs: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < list.docs.length; i++) {
        const doc = renumber[list.docs[i]];
        if (doc < 0) continue;
        docs.push(doc);
        counts.push(list.counts[i]);
      }
      if (docs.length === 0) this.postings.delete(term);
      else this.postings.set(term, { docs, counts, df: docs.length });
      total += docs.length;
    }
    this.ids = ids;
    this.lengths = lengths;
    this.terms = terms;
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
    const unique = [...new Set(textTerms(query))].slice(0, MAX_QUERY_TERMS);
    const found = unique
      .map((term) => ({ term, list: this.postings.get(term) }))
      .filter((entry): entry is { term: string; list: Postings } => (entry.list?.df ?? 0) > 0)
      .sort((a, b) => a.list.df - b.list.df);
    if (found.length === 0) return [];
    const common = this.live * COMMON_TERM_SHARE;
    const kept = found.filter(({ list }, i) => i === 0 || list.df <= common);
    const average = this.totalLength / this.live;
    if (this.scores.length < this.ids.length) {
      this.scores = new Float64Array(Math.max(this.ids.length, this.scores.length * 2));
    }
    const scores = this.scores;
    const touched: number[] = [];
    let best = 0;
    for (const { list } of kept) {
      const idf = Math.log(1 + (this.live - list.df + 0.5) / (list.df + 0.5));
      best += idf;
      const { docs, counts } = list;
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i];
        if (this.ids[doc] === undefined) continue;
        const tf = counts[i];
        const norm = K1 * (1 - B + (B * this.lengths[doc]) / average);
        if (scores[doc] === 0) touched.push(doc);
        scores[doc] += (idf * tf * (K1 + 1)) / (tf + norm);
      }
    }
    const heap = new TopK(Math.min(topK, touched.length));
    for (const doc of touched) {
      const score = scores[doc];
      scores[doc] = 0;
      if (heap.full && score <= heap.min) continue;
      if (accept && !accept(this.ids[doc]!)) continue;
      heap.push(score, doc);
    }
    return heap.sorted().map(({ row, score }) => ({
      id: this.ids[row]!,
      score: Math.min(1, score / best),
    }));
  }
}
