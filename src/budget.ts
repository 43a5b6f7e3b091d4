import { BaseLanguageModel } from "@langchain/core/language_models/base";
import type { MemoryContext, MemoryFormatter } from "./formatting.js";

/** Counts the tokens of a text, as the model that reads it would. */
export type TokenCounter = (text: string) => number | Promise<number>;

/** About four characters per token: what LangChain itself falls back to. */
export const approximateTokens: TokenCounter = (text) => Math.ceil(text.length / 4);

/**
 * The model's own token counter when it has one (it overrides `getNumTokens`), else
 * {@link approximateTokens}. LangChain's generic `getNumTokens` downloads tiktoken ranks on
 * first use and waits through retries offline, so it is only used when passed explicitly
 * (`countTokens: (text) => model.getNumTokens(text)`).
 */
export function modelTokenCounter(model: unknown): TokenCounter {
  if (
    model instanceof BaseLanguageModel &&
    model.getNumTokens !== BaseLanguageModel.prototype.getNumTokens
  ) {
    return (text) => model.getNumTokens(text);
  }
  return approximateTokens;
}

/**
 * Drop order when the memory block is over budget, first dropped first: episodes, then
 * relations, then facts (each from the least relevant up), then the profile. The profile goes
 * last because it is the one part meant to be in every prompt; episodes first because they are
 * the longest and the facts already hold what was learnt from them.
 */
export const BUDGET_DROP_ORDER = ["episodes", "relations", "facts", "profile"] as const;

/** The context without its first `drop` items in {@link BUDGET_DROP_ORDER}. */
function without(context: MemoryContext, drop: number): MemoryContext {
  let left = drop;
  const keep = <T>(items: T[] | undefined): T[] | undefined => {
    if (!items) return items;
    const removed = Math.min(left, items.length);
    left -= removed;
    return items.slice(0, items.length - removed);
  };
  const episodes = keep(context.episodes);
  const relations = keep(context.relations);
  const results = keep(context.results)!;
  const trimmed: MemoryContext = { ...context, results };
  if (episodes) trimmed.episodes = episodes;
  if (relations) trimmed.relations = relations;
  if (left > 0) delete trimmed.profile;
  return trimmed;
}

/**
 * The largest part of the context whose formatted block fits `budget` tokens, dropping items
 * in {@link BUDGET_DROP_ORDER}. The block is measured as formatted (custom formatters too);
 * a binary search keeps it to a few counts.
 */
export async function fitBudget(
  context: MemoryContext,
  budget: number,
  format: MemoryFormatter,
  count: TokenCounter,
): Promise<MemoryContext> {
  const fits = async (drop: number) => {
    const block = format(without(context, drop));
    return block === "" || (await count(block)) <= budget;
  };
  if (await fits(0)) return context;
  const total =
    (context.episodes?.length ?? 0) +
    (context.relations?.length ?? 0) +
    context.results.length +
    (context.profile === undefined ? 0 : 1);
  let low = 1; // smallest drop that may fit
  let high = total; // dropping everything always fits
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (await fits(middle)) high = middle;
    else low = middle + 1;
  }
  return without(context, low);
}
