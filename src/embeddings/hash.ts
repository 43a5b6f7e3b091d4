import { Embeddings, type EmbeddingsParams } from "@langchain/core/embeddings";

/** Weight of a whole-word feature. */
const WORD_WEIGHT = 1;
/** Weight of a character-trigram feature: relates "memory" and "memories", below a shared word. */
const TRIGRAM_WEIGHT = 0.3;

const WORD_PATTERN = /[\p{L}\p{N}]+/gu;

/** FNV-1a, 32 bits, over UTF-16 code units: fast and identical on every platform and run. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

/** @internal Throws unless `dimensions` is a positive integer. */
export function checkDimensions(dimensions: number): void {
  if (!Number.isInteger(dimensions) || dimensions <= 0) {
    throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
  }
}

/**
 * A deterministic bag-of-words embedding: each lower-cased word and each character trigram of
 * the space-padded word is hashed into one of `dimensions` buckets with a hash-derived sign, and
 * the result is L2-normalised. Texts sharing words get a clearly higher cosine similarity than
 * unrelated texts: enough for offline use and for tests of retrieval plumbing, though it knows
 * no synonyms.
 *
 * Values are rounded to float32, the precision of real embedding APIs, so a vector is identical
 * whether it travels as JSON floats or as base64 bytes. Text without any word maps to a fixed
 * unit vector, keeping cosine similarity defined.
 */
export function hashEmbedding(text: string, dimensions: number): number[] {
  checkDimensions(dimensions);
  const vector = new Array<number>(dimensions).fill(0);
  const addFeature = (feature: string, weight: number): void => {
    const hash = fnv1a32(feature);
    // The bucket uses the low bits and the sign the top bit, so they are independent.
    vector[hash % dimensions] += hash & 0x80000000 ? -weight : weight;
  };

  for (const word of text.toLowerCase().match(WORD_PATTERN) ?? []) {
    addFeature(word, WORD_WEIGHT);
    // Code points, not UTF-16 units, so astral characters are never split.
    const padded = Array.from(` ${word} `);
    for (let i = 0; i + 3 <= padded.length; i += 1) {
      addFeature(padded.slice(i, i + 3).join(""), TRIGRAM_WEIGHT);
    }
  }

  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  if (norm === 0) {
    return vector.fill(Math.fround(1 / Math.sqrt(dimensions)));
  }
  return vector.map((value) => Math.fround(value / norm));
}

/** Options of {@link HashEmbeddings}. */
export interface HashEmbeddingsParams extends EmbeddingsParams {
  /** Length of every vector (default 256). */
  dimensions?: number;
}

/**
 * In-process, zero-latency embeddings built on {@link hashEmbedding}: an offline embedder for
 * keyword-like retrieval without a model or network (the `hash` provider of
 * `Memory.fromConfig`), and stable vectors for tests and benchmarks. Returns exactly the
 * vectors that `FakeOpenAIServer` (from `langchain-mem0/testing`) serves for the same text and
 * dimensions.
 */
export class HashEmbeddings extends Embeddings {
  /** Length of every vector. */
  readonly dimensions: number;

  /** Model name, `hash-embeddings-<dimensions>`, so stores can tell embedders apart. */
  readonly model: string;

  constructor(fields: HashEmbeddingsParams = {}) {
    const { dimensions = 256, ...callerParams } = fields;
    super(callerParams);
    checkDimensions(dimensions);
    this.dimensions = dimensions;
    this.model = `hash-embeddings-${dimensions}`;
  }

  async embedQuery(text: string): Promise<number[]> {
    return hashEmbedding(text, this.dimensions);
  }

  async embedDocuments(documents: string[]): Promise<number[][]> {
    return documents.map((text) => hashEmbedding(text, this.dimensions));
  }
}
