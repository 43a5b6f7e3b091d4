import {
  BaseStore,
  type GetOperation,
  type Item,
  type ListNamespacesOperation,
  type MatchCondition,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchOperation,
} from "@langchain/langgraph";
import { z } from "zod";
import type { MemoryBackend, MemoryItem, MemoryMetadata } from "../backends/base.js";
import { ownerOf } from "../backends/base.js";
import { parseOptions } from "../backends/options.js";
import { storageHandler, type Mem0MemoryCallbackHandler } from "../callbacks.js";
import { Mem0ConfigError, Mem0InputError } from "../errors.js";
import type { MemoryScope } from "../scope.js";
import { ScopedMemory } from "../scoped_memory.js";
import type { MetadataFilter } from "../stores/filters.js";

/** A namespace segment that names an owner id. */
const PLACEHOLDERS = {
  "{user_id}": "userId",
  "{agent_id}": "agentId",
  "{run_id}": "runId",
} as const satisfies Record<string, keyof MemoryScope>;

type Placeholder = keyof typeof PLACEHOLDERS;

/** Metadata keys where the store keeps an item's key and value next to the memory. */
const KEY_FIELD = "store_key";
const VALUE_FIELD = "store_value";
/** Metadata keys the engine reserves; value fields with these names are not copied. */
const RESERVED = new Set(["user_id", "agent_id", "run_id", "expiration_date", "role", KEY_FIELD]);

/** LangGraph filter operators and their names in the memory filter vocabulary. */
const OPERATORS: Record<string, string> = {
  $eq: "eq",
  $ne: "ne",
  $gt: "gt",
  $gte: "gte",
  $lt: "lt",
  $lte: "lte",
  $in: "in",
  $nin: "nin",
};

/** An item found by a search, with its relevance when the search had a query. */
type SearchItem = Item & { score?: number };

/** Options of {@link Mem0Store}. */
export interface Mem0StoreOptions {
  /** The memory whose memories the store shows (`get`/`getAll`/`update`/`delete` needed). */
  memory: MemoryBackend;
  /**
   * How namespaces map to owners: literal segments and the placeholders `{user_id}`,
   * `{agent_id}` and `{run_id}` (default `["memories", "{user_id}"]`, LangMem's layout).
   */
  namespace?: string[];
  /**
   * The write path to share (e.g. `Mem0ChatModel.handler`), so puts queue behind that
   * model's writes of the same scope; built when absent.
   */
  handler?: Mem0MemoryCallbackHandler;
}

const optionsSchema = z.object({
  namespace: z.array(z.string().min(1)).min(1).optional(),
});

/** The text a value is remembered (and embedded) by. */
function valueText(value: Record<string, unknown>, index: false | string[] | undefined): string {
  if (Array.isArray(index) && index.length > 0) {
    const parts = index.flatMap((path) => textAtPath(value, path));
    if (parts.length > 0) return parts.join("\n");
  }
  for (const field of ["content", "text", "memory"]) {
    if (typeof value[field] === "string" && value[field] !== "") return value[field] as string;
  }
  return JSON.stringify(value);
}

/** Strings at a dotted path (`"a.b"`), through arrays; `"$"` is the whole value. */
function textAtPath(value: unknown, path: string): string[] {
  if (path === "$") return [typeof value === "string" ? value : JSON.stringify(value)];
  let current: unknown[] = [value];
  for (const part of path.split(".")) {
    current = current.flatMap((node) => {
      const next = (node as Record<string, unknown> | null)?.[part];
      return Array.isArray(next) ? next : next === undefined ? [] : [next];
    });
  }
  return current.map((node) => (typeof node === "string" ? node : JSON.stringify(node)));
}

/** LangGraph's value filter as a memory metadata filter. */
function toMetadataFilter(filter: Record<string, unknown> | undefined): MetadataFilter | undefined {
  if (!filter || Object.keys(filter).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(filter).map(([field, condition]) => {
      if (typeof condition !== "object" || condition === null || Array.isArray(condition)) {
        return [field, condition];
      }
      return [
        field,
        Object.fromEntries(
          Object.entries(condition).map(([op, operand]) => {
            const name = OPERATORS[op];
            if (!name) {
              throw new Mem0InputError(
                `filter.${field}: unknown operator "${op}"; use one of ` +
                  `${Object.keys(OPERATORS).join(", ")}.`,
              );
            }
            return [name, operand];
          }),
        ),
      ];
    }),
  ) as MetadataFilter;
}

function matches(namespace: string[], condition: MatchCondition): boolean {
  const { path, matchType } = condition;
  if (path.length > namespace.length) return false;
  const part =
    matchType === "prefix" ? namespace.slice(0, path.length) : namespace.slice(-path.length);
  return path.every((segment, i) => segment === "*" || segment === part[i]);
}

/**
 * The memories of a `Memory` as a LangGraph long-term store (`BaseStore`), so LangGraph code
 * and LangMem-style patterns read and write the same memories `Mem0ChatModel` uses.
 *
 * Namespaces name owners through a layout (default `["memories", "{user_id}"]`):
 * `["memories", "alice"]` is Alice's memories. `put` stores the value as a memory (its
 * `content`, `text` or `memory` field, the fields listed in `index`, or its JSON, embedded
 * for search), keeping the key and the value in the memory's metadata; `search` with a
 * `query` is a memory search, without one a listing; `filter` applies to the value's
 * top-level fields; memories the engine extracted show up with their id as key and
 * `{ content }` as value. Every operation stays inside the owner its namespace names: a
 * key of another owner is not found.
 *
 * ```ts
 * const store = new Mem0Store({ memory });
 * const graph = builder.compile({ store });
 * ```
 */
export class Mem0Store extends BaseStore {
  readonly memory: MemoryBackend;
  readonly layout: string[];
  /** The write path of every put: one queue, so the store's writes stay in order. */
  private readonly handler: Mem0MemoryCallbackHandler;

  constructor(options: Mem0StoreOptions) {
    super();
    if (typeof options?.memory?.search !== "function") {
      throw new Mem0ConfigError("Mem0Store needs `memory`: e.g. new Memory({ llm, embeddings }).");
    }
    parseOptions(optionsSchema, options, "Mem0Store options", Mem0ConfigError);
    this.memory = options.memory;
    this.layout = options.namespace ?? ["memories", "{user_id}"];
    if (!this.layout.some((segment) => segment in PLACEHOLDERS)) {
      throw new Mem0ConfigError(
        "Mem0Store namespace layout needs at least one of {user_id}, {agent_id}, {run_id}, " +
          'e.g. ["memories", "{user_id}"].',
      );
    }
    this.handler =
      options.handler ??
      (storageHandler(options.memory, { store: "await" }) as Mem0MemoryCallbackHandler);
  }

  override async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: unknown[] = [];
    // In order: a get after a put in the same batch sees the put.
    for (const operation of operations) results.push(await this.apply(operation));
    return results as OperationResults<Op>;
  }

  private apply(operation: Operation): Promise<unknown> {
    if ("namespacePrefix" in operation) return this.searchItems(operation);
    if ("value" in operation) return this.putItem(operation);
    if ("key" in operation) return this.getItem(operation);
    return this.listItems(operation);
  }

  /** The owner a namespace (or, with `prefix`, a namespace prefix) names. */
  private scopeOf(namespace: string[], prefix = false): MemoryScope {
    const expected = `[${this.layout.map((s) => JSON.stringify(s)).join(", ")}]`;
    if (
      !Array.isArray(namespace) ||
      (prefix ? namespace.length > this.layout.length : namespace.length !== this.layout.length)
    ) {
      throw new Mem0InputError(
        `Namespace ${JSON.stringify(namespace)} does not fit the Mem0Store layout ${expected}.`,
      );
    }
    const scope: MemoryScope = {};
    namespace.forEach((segment, i) => {
      const template = this.layout[i];
      const id = PLACEHOLDERS[template as Placeholder];
      if (id) {
        if (segment !== "*") scope[id] = segment;
      } else if (segment !== template && segment !== "*") {
        throw new Mem0InputError(
          `Namespace ${JSON.stringify(namespace)} does not fit the Mem0Store layout ` +
            `${expected}: segment ${i} must be "${template}".`,
        );
      }
    });
    if (Object.keys(scope).length === 0) {
      throw new Mem0InputError(
        `Namespace ${JSON.stringify(namespace)} names no owner; Mem0Store reads one owner at ` +
          `a time, so give the owner's segment of ${expected}.`,
      );
    }
    return scope;
  }

  /** The namespace of a memory: the layout filled with its owner ids, up to the first gap. */
  private namespaceOf(item: MemoryItem): string[] {
    const owner = ownerOf(item);
    const namespace: string[] = [];
    for (const segment of this.layout) {
      const id = PLACEHOLDERS[segment as Placeholder];
      const value = id ? owner[id] : segment;
      if (value === undefined) break;
      namespace.push(value);
    }
    return namespace;
  }

  private toItem(item: MemoryItem): SearchItem {
    const key = item.metadata[KEY_FIELD];
    const value = item.metadata[VALUE_FIELD];
    return {
      namespace: this.namespaceOf(item),
      key: typeof key === "string" ? key : item.id,
      value:
        typeof value === "object" && value !== null
          ? (value as Record<string, unknown>)
          : { content: item.memory },
      createdAt: new Date(item.createdAt),
      updatedAt: new Date(item.updatedAt),
      ...(item.score === undefined ? {} : { score: item.score }),
    };
  }

  private scoped(scope: MemoryScope): ScopedMemory {
    return new ScopedMemory(this.memory, scope, { handler: this.handler });
  }

  /** The memory stored under a key (or, for memories without one, with that id). */
  private async find(scoped: ScopedMemory, key: string): Promise<MemoryItem | null> {
    if (typeof key !== "string" || key === "") {
      throw new Mem0InputError("A Mem0Store key must be a non-empty string.");
    }
    const [byKey] = (await scoped.list({ topK: 1, filters: { [KEY_FIELD]: key } })).results;
    if (byKey) return byKey;
    const byId = await scoped.get(key);
    return byId && byId.metadata[KEY_FIELD] === undefined ? byId : null;
  }

  private async getItem({ namespace, key }: GetOperation): Promise<Item | null> {
    const item = await this.find(this.scoped(this.scopeOf(namespace)), key);
    return item ? this.toItem(item) : null;
  }

  private async putItem({ namespace, key, value, index }: PutOperation): Promise<void> {
    const scoped = this.scoped(this.scopeOf(namespace));
    const existing = await this.find(scoped, key);
    if (value === null) {
      if (existing) await scoped.delete(existing.id);
      return;
    }
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new Mem0InputError("A Mem0Store value must be an object, e.g. { content: '...' }.");
    }
    // The value's top-level scalars also become metadata, so `filter` can select on them.
    const fields = Object.fromEntries(
      Object.entries(value).filter(
        ([field, v]) =>
          !RESERVED.has(field) && field !== VALUE_FIELD && (v === null || typeof v !== "object"),
      ),
    );
    const metadata: MemoryMetadata = { ...fields, [KEY_FIELD]: key, [VALUE_FIELD]: value };
    const text = valueText(value, index);
    if (existing) {
      await scoped.update(existing.id, { text, metadata });
      return;
    }
    const added = await scoped.add(text, { infer: false, metadata });
    if (added.results.length === 0) {
      throw new Mem0InputError(
        `Mem0Store could not store key "${key}": the owner already has a memory with the ` +
          "same text under another key.",
      );
    }
  }

  private async searchItems(operation: SearchOperation): Promise<SearchItem[]> {
    const scoped = this.scoped(this.scopeOf(operation.namespacePrefix, true));
    const limit = operation.limit ?? 10;
    const offset = operation.offset ?? 0;
    const filters = toMetadataFilter(operation.filter);
    let items: MemoryItem[];
    if (operation.query) {
      const found = await scoped.search(operation.query, { topK: offset + limit, filters });
      items = found.results;
    } else {
      items = [];
      let cursor: string | undefined;
      do {
        const page = await scoped.list({ topK: 100, cursor, filters });
        items.push(...page.results);
        cursor = page.nextCursor;
      } while (cursor && items.length < offset + limit);
    }
    return items.slice(offset, offset + limit).map((item) => this.toItem(item));
  }

  private async listItems(operation: ListNamespacesOperation): Promise<string[][]> {
    const prefix = operation.matchConditions?.find((c) => c.matchType === "prefix");
    if (!prefix) {
      throw new Mem0InputError(
        "Mem0Store lists namespaces of one owner at a time: pass a prefix that names it, " +
          'e.g. listNamespaces({ prefix: ["memories", "alice"] }).',
      );
    }
    const scoped = this.scoped(this.scopeOf(prefix.path, true));
    const seen = new Map<string, string[]>();
    let cursor: string | undefined;
    do {
      const page = await scoped.list({ topK: 100, cursor });
      for (const item of page.results) {
        let namespace = this.namespaceOf(item);
        if (!(operation.matchConditions ?? []).every((c) => matches(namespace, c))) continue;
        if (operation.maxDepth !== undefined) namespace = namespace.slice(0, operation.maxDepth);
        seen.set(JSON.stringify(namespace), namespace);
      }
      cursor = page.nextCursor;
    } while (cursor);
    const sorted = [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, ns]) => ns);
    return sorted.slice(operation.offset, operation.offset + operation.limit);
  }
}
