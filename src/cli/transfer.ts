import { createReadStream, createWriteStream } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { embedderName, factHash } from "../backends/memory.js";
import type { MemoryScope } from "../scope.js";
import type { StoredMemory } from "../stores/base.js";
import {
  CliError,
  EXIT,
  openMemory,
  output,
  scopeOf,
  type GlobalOptions,
  type ScopeOptions,
} from "./context.js";
import { addScopeOptions } from "./memories.js";
import { ProgressBar } from "./progress.js";

/** First line of an export file. */
interface ExportHeader {
  format: "langchain-mem0/memories";
  version: 1;
  /** The embedder of the vectors in the file, when they are included. */
  embedder?: { model: string; dimensions: number };
  exported_at: string;
}

/** One memory per line after the header. */
interface ExportedMemory {
  id: string;
  memory: string;
  hash?: string;
  metadata?: Record<string, unknown>;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
  created_at?: string;
  updated_at?: string;
  embedding?: number[];
}

const PAGE = 500;
const EMBED_BATCH = 64;

/** Vectors of stored memories, where the store can give them (the embedded SQLite store). */
interface VectorSource {
  embeddings?(ids: string[]): Promise<Map<string, number[]>>;
  recordedEmbedder?(): Promise<{ model?: string; dimensions?: number } | undefined>;
}

/** `export` and `import`: JSONL files of memories, vectors optional. */
export function transferCommands(program: Command): void {
  addScopeOptions(program.command("export"))
    .description("write a scope's memories as JSONL (one memory per line, after a header line)")
    .option("-o, --out <file>", "output file (default: stdout)")
    .option(
      "--embeddings",
      "include each memory's vector, so an import with the same embedder skips embedding",
    )
    .action(
      async (options: ScopeOptions & { out?: string; embeddings?: boolean }, command: Command) => {
        const global = command.optsWithGlobals() as GlobalOptions;
        const scope = scopeOf(options)!;
        const { memory } = await openMemory(global);
        try {
          const store = memory.store as typeof memory.store & VectorSource;
          const recorded = await store.recordedEmbedder?.();
          const withVectors = options.embeddings === true;
          if (withVectors && typeof store.embeddings !== "function") {
            throw new CliError("This store cannot export vectors; drop --embeddings.", EXIT.usage);
          }
          const file = options.out ? createWriteStream(options.out) : process.stdout;
          const write = async (value: unknown) => {
            if (!file.write(`${JSON.stringify(value)}\n`)) await once(file, "drain");
          };
          const header: ExportHeader = {
            format: "langchain-mem0/memories",
            version: 1,
            exported_at: new Date().toISOString(),
          };
          if (withVectors && recorded?.model && recorded.dimensions) {
            header.embedder = { model: recorded.model, dimensions: recorded.dimensions };
          }
          await write(header);
          let count = 0;
          let cursor: string | undefined;
          do {
            const page = await memory.getAll({ ...scope, topK: PAGE, cursor, showExpired: true });
            const vectors = withVectors
              ? await store.embeddings!(page.results.map((item) => item.id))
              : undefined;
            for (const item of page.results) {
              const line: ExportedMemory = {
                id: item.id,
                memory: item.memory,
                hash: item.hash,
                metadata: item.metadata,
                user_id: item.user_id,
                agent_id: item.agent_id,
                run_id: item.run_id,
                created_at: item.createdAt,
                updated_at: item.updatedAt,
              };
              const vector = vectors?.get(item.id);
              if (vector) line.embedding = vector;
              await write(line);
              count++;
            }
            cursor = page.nextCursor;
          } while (cursor);
          if (file !== process.stdout) {
            file.end();
            await once(file, "finish");
            output(
              global,
              { exported: count, file: options.out, embeddings: withVectors },
              () => `exported ${count} memories to ${options.out}`,
            );
          }
        } finally {
          await memory.close();
        }
      },
    );

  addScopeOptions(program.command("import <file>"))
    .description(
      "read a JSONL export into the store; vectors are reused when the embedder matches, re-embedded otherwise; --user/--agent/--run move the memories to that owner",
    )
    .action(async (file: string, options: ScopeOptions, command: Command) => {
      const global = command.optsWithGlobals() as GlobalOptions;
      const owner = scopeOf(options, true);
      const { header, lines } = await readExport(file);
      const { memory, embeddings } = await openMemory(global);
      try {
        const store = memory.store as typeof memory.store & VectorSource;
        const result = await importMemories(lines, {
          header,
          owner,
          store,
          embeddings,
          embedder: embedderName(embeddings),
        });
        output(global, result, () =>
          [
            `imported ${result.imported} memories` +
              (result.skipped ? `, skipped ${result.skipped} already present` : ""),
            result.reembedded
              ? `re-embedded ${result.reembedded} with ${result.embedder} (${result.reason})`
              : `reused the file's vectors (${result.embedder})`,
          ].join("\n"),
        );
      } finally {
        await memory.close();
      }
    });
}

async function readExport(
  file: string,
): Promise<{ header?: ExportHeader; lines: ExportedMemory[] }> {
  const lines: ExportedMemory[] = [];
  let header: ExportHeader | undefined;
  let number = 0;
  const input = createReadStream(file, "utf8");
  const opened = once(input, "open").catch((error: NodeJS.ErrnoException) => {
    throw new CliError(
      `Cannot read ${file}: ${error.message}`,
      error.code === "ENOENT" ? EXIT.notFound : EXIT.failure,
    );
  });
  await opened;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    number++;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new CliError(`${file}:${number} is not JSON.`, EXIT.usage);
    }
    const record = value as Partial<ExportedMemory & ExportHeader>;
    if (number === 1 && record.format === "langchain-mem0/memories") {
      header = record as ExportHeader;
      continue;
    }
    if (typeof record.memory !== "string" || record.memory.trim() === "") {
      throw new CliError(`${file}:${number} has no "memory" text.`, EXIT.usage);
    }
    lines.push(record as ExportedMemory);
  }
  return { header, lines };
}

interface ImportContext {
  header?: ExportHeader;
  owner?: MemoryScope;
  store: import("../backends/memory.js").MemoryStorage & VectorSource;
  embeddings: import("@langchain/core/embeddings").Embeddings;
  /** `Class:model` of the target embedder. */
  embedder: string;
}

/** Writes the exported memories into the store, reusing or recomputing their vectors. */
async function importMemories(lines: ExportedMemory[], context: ImportContext) {
  const { store, embeddings, header } = context;
  const recorded = await store.recordedEmbedder?.();
  if (recorded?.model && recorded.model !== context.embedder) {
    throw new CliError(
      `The target store was built with "${recorded.model}" but "${context.embedder}" is in use; ` +
        "pass --embedder to match the store.",
      EXIT.config,
    );
  }
  const withVectors = lines.filter((line) => Array.isArray(line.embedding)).length;
  const sameEmbedder = header?.embedder?.model === context.embedder;
  const reason = !withVectors
    ? "the file has no vectors"
    : !sameEmbedder
      ? `the file's vectors are from ${header?.embedder?.model ?? "an unknown embedder"}`
      : undefined;
  const reuse = reason === undefined;

  const progress = new ProgressBar("import", lines.length);
  let imported = 0;
  let skipped = 0;
  let reembedded = 0;
  for (let start = 0; start < lines.length; start += EMBED_BATCH) {
    const batch = lines.slice(start, start + EMBED_BATCH);
    const fresh: ExportedMemory[] = [];
    for (const line of batch) {
      if (line.id && (await store.get(line.id))) skipped++;
      else fresh.push(line);
    }
    const vectors = reuse
      ? fresh.map((line) => line.embedding!)
      : await embeddings.embedDocuments(fresh.map((line) => line.memory));
    if (!reuse) reembedded += fresh.length;
    if (vectors.length > 0) {
      const dimensions = recorded?.dimensions ?? vectors[0].length;
      await store.ensureEmbedder(context.embedder, dimensions);
    }
    const now = new Date().toISOString();
    const applied = await store.apply(
      fresh.map((line, index) => {
        const owner = context.owner ?? {
          userId: line.user_id,
          agentId: line.agent_id,
          runId: line.run_id,
        };
        if (!owner.userId && !owner.agentId && !owner.runId) {
          throw new CliError(
            `Memory "${line.id ?? line.memory}" has no owner: give --user, --agent or --run.`,
            EXIT.usage,
          );
        }
        const stored: StoredMemory = {
          id: line.id ?? crypto.randomUUID(),
          text: line.memory,
          hash: factHash(line.memory),
          metadata: line.metadata ?? {},
          ...Object.fromEntries(Object.entries(owner).filter(([, value]) => value !== undefined)),
          createdAt: line.created_at ?? now,
          updatedAt: line.updated_at ?? now,
        };
        return {
          type: "insert" as const,
          memory: stored,
          embedding: vectors[index],
          actor: "import",
        };
      }),
    );
    const done = applied.filter((change) => change.applied).length;
    imported += done;
    skipped += fresh.length - done;
    progress.tick(batch.length);
  }
  progress.finish();
  return {
    imported,
    skipped,
    reembedded,
    embedder: context.embedder,
    ...(reason ? { reason } : {}),
  };
}
