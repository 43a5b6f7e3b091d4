import type { LoggedMessage, MessageMatch } from "./base.js";

/** A message of the searched scope with its cosine to the query vector (0 without a vector). */
export interface MessageCandidate {
  message: LoggedMessage;
  cosine: number;
}

/** The `topK` entries with the highest `key` (ties: earlier first). */
function best<T>(items: T[], key: (item: T) => number, topK: number): T[] {
  return items
    .filter((item) => key(item) > 0)
    .sort((a, b) => key(b) - key(a))
    .slice(0, topK);
}

/**
 * The episode search of every store, once the scope's messages are read: keyword relevance
 * with BM25 weights from the scope's own messages (as memory keyword search does), then the
 * `topK` best by cosine and the `topK` best by keyword. `terms` is the keyword index's
 * tokenizer, so a word matches turns as it matches memories, whatever the store's dialect.
 */
export function rankMessages(
  candidates: MessageCandidate[],
  query: string,
  terms: (text: string) => string[],
  topK: number,
): MessageMatch[] {
  const words = [...new Set(terms(query))];
  const found = candidates.map(({ message }) => {
    const text = new Set(terms(message.content));
    return words.map((word, index) => (text.has(word) ? index : -1)).filter((i) => i >= 0);
  });
  const docs = new Array<number>(words.length).fill(0);
  for (const indexes of found) for (const index of indexes) docs[index]++;
  const total = candidates.length;
  const idf = docs.map((n) => Math.log(1 + (total - n + 0.5) / (n + 0.5)));
  const scored = candidates.map(({ message, cosine }, i): MessageMatch => ({
    message,
    cosine,
    keyword: found[i].reduce((sum, index) => sum + idf[index], 0),
  }));
  return [
    ...new Set([
      ...best(scored, (match) => match.cosine, topK),
      ...best(scored, (match) => match.keyword, topK),
    ]),
  ];
}
