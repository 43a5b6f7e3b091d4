/**
 * Deterministic synthetic memories and queries: short English-like sentences over a Zipf-
 * distributed vocabulary of generated words, so keyword and vector search see realistic term
 * frequencies without any data set. Text `i` depends on `i` only.
 */

const SYLLABLES = (
  "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go ha he hi ho ka ke ki ko " +
  "la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to"
).split(" ");
const FILLERS = "the a my our with at from about for and to on in".split(" ");
const VOCABULARY_SIZE = 5000;
const WORDS_PER_TEXT = 12;
const WORDS_PER_QUERY = 5;

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCABULARY: string[] = (() => {
  const random = prng(7);
  const words = new Set<string>();
  while (words.size < VOCABULARY_SIZE) {
    const length = 2 + Math.floor(random() * 3);
    let word = "";
    for (let i = 0; i < length; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    words.add(word);
  }
  return [...words];
})();

/** Cumulative Zipf (s = 1) weights over the vocabulary ranks. */
const ZIPF_CDF: Float64Array = (() => {
  const cdf = new Float64Array(VOCABULARY_SIZE);
  let total = 0;
  for (let rank = 0; rank < VOCABULARY_SIZE; rank++) cdf[rank] = total += 1 / (rank + 1);
  for (let rank = 0; rank < VOCABULARY_SIZE; rank++) cdf[rank] /= total;
  return cdf;
})();

function zipfWord(random: () => number): string {
  const target = random();
  let low = 0;
  let high = VOCABULARY_SIZE - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (ZIPF_CDF[middle] < target) low = middle + 1;
    else high = middle;
  }
  return VOCABULARY[low];
}

function sentence(random: () => number, words: number): string {
  const parts: string[] = [];
  for (let i = 0; i < words; i++) {
    parts.push(zipfWord(random));
    if (random() < 0.3) parts.push(FILLERS[Math.floor(random() * FILLERS.length)]);
  }
  return parts.join(" ");
}

/** Memory number `i`: unique (it carries its number) and the same on every run. */
export function memoryText(i: number): string {
  return `Note ${i}: ${sentence(prng(1_000_003 + i), WORDS_PER_TEXT)}.`;
}

/** Memories `start` to `start + count - 1`. */
export function memoryTexts(start: number, count: number): string[] {
  return Array.from({ length: count }, (_, offset) => memoryText(start + offset));
}

/** Search query number `i`, drawn from the same vocabulary as the memories. */
export function queryText(i: number): string {
  return `${sentence(prng(7_000_001 + i), WORDS_PER_QUERY)}?`;
}

/**
 * A query made from memory `target`'s own words (three of them, in another order) plus one
 * word of the vocabulary: the memory is the right answer, so "found in the top 10" measures
 * ranking quality rather than agreement with any one scoring function.
 */
export function memoryQuery(i: number, target: number): string {
  const random = prng(9_000_011 + i);
  const words = memoryText(target)
    .replace(/^Note \d+: /, "")
    .replace(/\.$/, "")
    .split(" ")
    .filter((word) => !FILLERS.includes(word));
  const picked: string[] = [];
  while (picked.length < Math.min(3, words.length)) {
    const word = words[Math.floor(random() * words.length)];
    if (!picked.includes(word)) picked.push(word);
  }
  picked.splice(Math.floor(random() * 4), 0, zipfWord(random));
  return `${picked.join(" ")}?`;
}
