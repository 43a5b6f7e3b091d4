/**
 * Child process of the footprint section: loads N memories into one system in a fresh
 * process, searches once (so caches are filled as in use), and reports its RSS and the size
 * of its files. Run by footprint.ts with `--expose-gc`; answers over IPC.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/testing/index.js";
import { memoryTexts, queryText } from "./corpus.js";
import { createMem0, loadTexts, mem0System, oursSystem, type MemorySystem } from "./systems.js";

export type FootprintSystem = "ours" | "mem0";

export interface FootprintSample {
  system: FootprintSystem;
  memories: number;
  rssEmptyBytes: number;
  rssLoadedBytes: number;
  heapUsedLoadedBytes: number;
  diskBytes: number;
  files: Record<string, number>;
  /** Bytes of each table of an SQLite file, its indexes included (ours only). */
  tables?: Record<string, number>;
  loadMs: number;
}

const USER = "footprint-user";

/** Bytes per table (with its indexes) of an SQLite file, from SQLite's page statistics. */
function tableSizes(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT s.tbl_name AS name, SUM(d.pgsize) AS bytes FROM dbstat d
         JOIN sqlite_schema s ON s.name = d.name GROUP BY s.tbl_name ORDER BY bytes DESC`,
      )
      .all() as { name: string; bytes: number }[];
    return Object.fromEntries(rows.map(({ name, bytes }) => [name, bytes]));
  } finally {
    db.close();
  }
}

/** Bytes of a file, or of every file under a directory (the saved search indexes). */
function sizeOf(file: string): number {
  const stat = fs.statSync(file);
  if (!stat.isDirectory()) return stat.size;
  return fs.readdirSync(file).reduce((sum, name) => sum + sizeOf(path.join(file, name)), 0);
}

/**
 * Resident memory of the process after a GC, without file pages: the SQLite store reads its
 * file through a memory map, whose pages are the OS page cache (shared, reclaimable) and
 * would otherwise count the file once more. Linux reports it as RssAnon; elsewhere, all RSS.
 */
function rssAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  try {
    const anon = /^RssAnon:\s+(\d+) kB$/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (anon) return Number(anon[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss;
}

async function open(system: FootprintSystem, dir: string): Promise<MemorySystem> {
  const embeddings = new HashEmbeddings({ dimensions: 384 });
  if (system === "ours")
    return oursSystem("ours", new Memory({ embeddings, path: path.join(dir, "memory.db") }));
  const mem0 = await createMem0({ dbPath: path.join(dir, "vector_store.db"), embeddings });
  await mem0.getAll({ filters: { user_id: USER } }); // finishes its asynchronous start-up
  return mem0System("mem0ai", mem0);
}

async function measure(
  system: FootprintSystem,
  memories: number,
  dir: string,
): Promise<FootprintSample> {
  const store = await open(system, dir);
  const rssEmptyBytes = rssAfterGc();
  const loadMs = await loadTexts(store, USER, memories, memoryTexts);
  await store.search(queryText(0), USER, 10);
  const rssLoadedBytes = rssAfterGc();
  const heapUsedLoadedBytes = process.memoryUsage().heapUsed;
  await store.close();
  const files = Object.fromEntries(
    fs.readdirSync(dir).map((name) => [name, sizeOf(path.join(dir, name))]),
  );
  const diskBytes = Object.values(files).reduce((sum, size) => sum + size, 0);
  return {
    system,
    memories,
    rssEmptyBytes,
    rssLoadedBytes,
    heapUsedLoadedBytes,
    diskBytes,
    files,
    ...(system === "ours" ? { tables: tableSizes(path.join(dir, "memory.db")) } : {}),
    loadMs,
  };
}

const [system, memories, dir] = process.argv.slice(2);
const sample = await measure(system as FootprintSystem, Number(memories), dir);
process.send?.(sample);
