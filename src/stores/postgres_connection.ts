import type { Pool, PoolClient, QueryResultRow } from "pg";
import { Mem0ClosedError, Mem0ConfigError } from "../errors.js";
import { loadPgDriver } from "./pg_driver.js";
import { migratePostgres } from "./postgres_schema.js";

/** A pool or a client of one: what a query runs on. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** SQLSTATEs after which a transaction is simply run again: deadlock, serialization failure. */
const RETRYABLE = new Set(["40P01", "40001"]);
const MAX_TRANSACTION_ATTEMPTS = 5;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** How a {@link PostgresConnection} reaches the database. */
export interface PostgresConnectionOptions {
  pool?: Pool;
  connectionString?: string;
  schema: string;
  maxConnections: number;
}

/**
 * The pool of a Postgres store: schema migration before the first query, transactions that are
 * run again after a deadlock, and closing (a pool the store made is ended; a given one is not).
 */
export class PostgresConnection {
  readonly pool: Pool;
  readonly schema: string;
  private readonly ownsPool: boolean;
  /** The schema migration, started by the first query. */
  private ready?: Promise<void>;
  private closed = false;

  constructor(options: PostgresConnectionOptions) {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new Mem0ConfigError(
        `schema must be a lower-case SQL identifier (letters, digits, _), got ${JSON.stringify(options.schema)}.`,
      );
    }
    this.schema = options.schema;
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      const { Pool: PgPool } = loadPgDriver();
      this.pool = new PgPool({
        connectionString: options.connectionString,
        max: options.maxConnections,
      });
      this.ownsPool = true;
    } else {
      throw new Mem0ConfigError(
        "PostgresStore needs a `pool` (a pg Pool) or a `connectionString` " +
          "(e.g. postgres://user:password@host:5432/db).",
      );
    }
    // An idle client's error (the server went away) must not crash the process.
    if (this.ownsPool) this.pool.on("error", () => undefined);
  }

  /** Migrates the schema once, before the first query (a failed attempt is tried again). */
  private prepared(): Promise<void> {
    this.ready ??= (async () => {
      const client = await this.pool.connect();
      try {
        await migratePostgres(client, this.schema);
      } finally {
        client.release();
      }
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** Throws `Mem0ClosedError` once closed. */
  assertOpen(): void {
    if (this.closed) {
      throw new Mem0ClosedError(
        `PostgresStore(${this.schema}) is closed; create a new store to use the database again.`,
      );
    }
  }

  /** Waits for the schema, then runs one statement on the pool. */
  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<R[]> {
    this.assertOpen();
    await this.prepared();
    return (await this.pool.query<R>(text, params)).rows;
  }

  /**
   * Runs `fn` in a transaction on one client; a deadlock or serialization failure rolls back
   * and runs it again (so `fn` must not keep state across attempts). `setup` statements run
   * first, in the same round trip as BEGIN.
   */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>, setup = ""): Promise<T> {
    this.assertOpen();
    await this.prepared();
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: unknown;
      try {
        await client.query(`BEGIN;${setup}`);
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollback: unknown) => (broken = rollback));
        const code = (error as { code?: string }).code;
        if (!(code && RETRYABLE.has(code) && attempt < MAX_TRANSACTION_ATTEMPTS)) throw error;
      } finally {
        // A client whose rollback failed is not handed out again.
        client.release(broken instanceof Error ? broken : undefined);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready?.catch(() => undefined);
    if (this.ownsPool) await this.pool.end();
  }
}

/** `$1`, `$2`, ... placeholders. */
export const dollar = (index: number): string => `$${index}`;

/** pgvector's text form of a vector, as a query parameter. */
export function toVectorLiteral(vector: Float32Array): string {
  return `[${Array.from(vector).join(",")}]`;
}
