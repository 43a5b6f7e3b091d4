import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ApproximateIndex, VectorKernel } from "./vector_index.js";

/** What a saved index was built from: when it no longer matches the rows, it is not used. */
export interface IndexStamp {
  /** The query scope's key. */
  scopeKey: string;
  /** A token of the store and of the scope's version, which every visible write moves. */
  version: string;
  dims: number;
  /** The kernel and layout that wrote it (`int8-l2-1`). */
  format: string;
}

interface IndexMeta extends IndexStamp {
  /** The approximate index, when the scope has one. */
  file?: string;
  /** The rest of the scope's search state (ScopeIndex.snapshot). */
  state: string;
}

/** A saved index whose stamp matched. */
export interface SavedIndex {
  index?: ApproximateIndex;
  state: Buffer;
}

/**
 * Search state saved next to the store's file (one directory; per query scope a JSON stamp,
 * a state file and, for a scope searched approximately, an index file), so a large scope is
 * not re-indexed at every start. It is a cache of the rows: loaded only when its stamp
 * matches the scope's current version, and rebuilt otherwise.
 */
export class IndexFiles {
  constructor(readonly dir: string) {}

  private base(scopeKey: string): string {
    return crypto.createHash("sha256").update(scopeKey).digest("hex").slice(0, 32);
  }

  private metaPath(scopeKey: string): string {
    return path.join(this.dir, `${this.base(scopeKey)}.json`);
  }

  private readMeta(scopeKey: string): IndexMeta | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.metaPath(scopeKey), "utf8")) as IndexMeta;
    } catch {
      return undefined;
    }
  }

  /** The saved index of the stamp, or `undefined` when none matches (or it cannot be read). */
  load(stamp: IndexStamp, kernel: VectorKernel): SavedIndex | undefined {
    const meta = this.readMeta(stamp.scopeKey);
    if (
      !meta ||
      (meta.file && !kernel.loadIndex) ||
      meta.scopeKey !== stamp.scopeKey ||
      meta.version !== stamp.version ||
      meta.dims !== stamp.dims ||
      meta.format !== stamp.format
    ) {
      return undefined;
    }
    try {
      const state = fs.readFileSync(path.join(this.dir, meta.state));
      if (!meta.file) return { state };
      return { index: kernel.loadIndex!(path.join(this.dir, meta.file), stamp.dims), state };
    } catch {
      return undefined;
    }
  }

  /**
   * Saves the index under a new file name, then points the stamp at it and removes the old
   * file: a crash at any step leaves either the old or the new index readable.
   */
  save(stamp: IndexStamp, index: ApproximateIndex | undefined, state: Buffer): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const name = `${this.base(stamp.scopeKey)}.${crypto.randomBytes(6).toString("hex")}`;
    const meta: IndexMeta = {
      ...stamp,
      ...(index ? { file: `${name}.vectors` } : {}),
      state: `${name}.state`,
    };
    const previous = this.readMeta(stamp.scopeKey);
    if (index) index.save(path.join(this.dir, meta.file!));
    fs.writeFileSync(path.join(this.dir, meta.state), state);
    const metaPath = this.metaPath(stamp.scopeKey);
    fs.writeFileSync(`${metaPath}.tmp`, JSON.stringify(meta));
    fs.renameSync(`${metaPath}.tmp`, metaPath);
    if (previous) this.removeFiles(previous);
  }

  private removeFiles(meta: IndexMeta): void {
    if (meta.file) fs.rmSync(path.join(this.dir, meta.file), { force: true });
    fs.rmSync(path.join(this.dir, meta.state), { force: true });
  }

  /** Removes the saved index of a query scope. */
  remove(scopeKey: string): void {
    const meta = this.readMeta(scopeKey);
    fs.rmSync(this.metaPath(scopeKey), { force: true });
    if (meta) this.removeFiles(meta);
  }

  /** Query-scope keys with a saved index. */
  scopeKeys(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const keys: string[] = [];
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      try {
        const meta = JSON.parse(fs.readFileSync(path.join(this.dir, name), "utf8")) as IndexMeta;
        keys.push(meta.scopeKey);
      } catch {
        // an unreadable stamp is never loaded
      }
    }
    return keys;
  }

  /** Removes every saved index. */
  clear(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
