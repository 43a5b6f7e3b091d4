import crypto from "node:crypto";
import type Database from "better-sqlite3";
import { checkDimensions, checkEmbedder } from "./store_checks.js";

const META_MODEL = "embedder_model";
const META_STORE_ID = "store_id";
const META_DIMS = "embedder_dimensions";

/**
 * What the SQLite store records about itself in its `meta` table: the embedder it was built
 * with (every vector must match it) and a random id of the database.
 */
export class SqliteMeta {
  private readonly read: Database.Statement;
  private readonly write: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.read = db.prepare("SELECT value FROM meta WHERE key = ?").pluck();
    this.write = db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
  }

  private get(key: string): string | undefined {
    return this.read.get(key) as string | undefined;
  }

  /** The embedding dimension of the stored vectors, once one is recorded. */
  dimensions(): number | undefined {
    const value = this.get(META_DIMS);
    return value === undefined ? undefined : Number(value);
  }

  /** Records the embedding dimension (only called while none is recorded). */
  recordDimensions(dims: number): void {
    this.write.run(META_DIMS, String(dims));
  }

  /** The embedder the store was built with, or `undefined` before the first vector. */
  embedder(): { model?: string; dimensions?: number } | undefined {
    const model = this.get(META_MODEL);
    const dimensions = this.dimensions();
    return model === undefined && dimensions === undefined ? undefined : { model, dimensions };
  }

  /** Records the embedder, or throws `EmbedderMismatchError` when another one built the store. */
  ensureEmbedder(model: string, dimensions: number): void {
    checkDimensions(dimensions);
    this.db
      .transaction(() => {
        const storedModel = this.get(META_MODEL);
        const storedDims = this.dimensions();
        checkEmbedder(this.path, { model: storedModel, dimensions: storedDims }, model, dimensions);
        if (storedModel === undefined) this.write.run(META_MODEL, model);
        if (storedDims === undefined) this.recordDimensions(dimensions);
      })
      .immediate();
  }

  /**
   * A random id of this database, part of every saved index's stamp: a new file at the same
   * path (or a reset) never matches an index saved for an old one.
   */
  storeId(): string {
    let id = this.get(META_STORE_ID);
    if (id === undefined) {
      this.db
        .transaction(() => {
          if (this.get(META_STORE_ID) === undefined) {
            this.write.run(META_STORE_ID, crypto.randomBytes(8).toString("hex"));
          }
        })
        .immediate();
      id = this.get(META_STORE_ID)!;
    }
    return id;
  }
}
