import type Database from "better-sqlite3";
import type { MemoryScope } from "../scope.js";
import type { StoreSearchOptions } from "./base.js";

/** What the search parts of the SQLite store need from the store that owns the connection. */
export interface SqliteSearchContext {
  db: Database.Database;
  /** The file path (or `":memory:"`), for error messages. */
  path: string;
  /** A statement prepared once per kind and scope shape. */
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
  /** The recorded embedding dimension, if any. */
  recordedDimensions(): number | undefined;
  /** Throws a clear error unless the vector has `dims` finite numbers. */
  checkVector(vector: number[], dims: number, what: string): void;
  /** Validates a search's scope and options; returns the scope with only defined ids. */
  checkSearch(scope: MemoryScope, options: StoreSearchOptions): MemoryScope;
  assertOpen(): void;
  /** A random id of this database, part of every saved index's stamp. */
  storeId(): string;
  /** The scope's version, moved by every write visible from it. */
  version(scope: MemoryScope): string;
}

/** Delegates the context's members under the names the store's methods use. */
export abstract class SqliteSearchPart {
  constructor(protected readonly ctx: SqliteSearchContext) {}

  protected get db(): Database.Database {
    return this.ctx.db;
  }

  protected get path(): string {
    return this.ctx.path;
  }

  protected scoped(kind: string, mask: string, build: () => string): Database.Statement {
    return this.ctx.scoped(kind, mask, build);
  }

  protected recordedDimensions(): number | undefined {
    return this.ctx.recordedDimensions();
  }

  protected checkVector(vector: number[], dims: number, what: string): void {
    this.ctx.checkVector(vector, dims, what);
  }

  protected checkSearch(scope: MemoryScope, options: StoreSearchOptions): MemoryScope {
    return this.ctx.checkSearch(scope, options);
  }

  protected assertOpen(): void {
    this.ctx.assertOpen();
  }
}
