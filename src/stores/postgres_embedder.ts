import { checkDimensions, checkEmbedder, checkVector, firstDimensions } from "./store_checks.js";
import { toVectorLiteral, type PostgresConnection, type Queryable } from "./postgres_connection.js";
import { schemaLockSql, vectorIndexSql } from "./postgres_schema.js";
import { normalizeVector } from "./vector_cache.js";

const META_MODEL = "embedder_model";
const META_DIMS = "embedder_dimensions";

/**
 * The embedder record of the Postgres store (model and dimension in its `meta` table) and the
 * vectors checked against it: the first vector or `ensure` fixes the dimension and builds the
 * HNSW indexes for it, under the schema lock so concurrent instances record one.
 */
export class PostgresEmbedder {
  /** The recorded dimension once committed; only a reset changes it. */
  private known?: number;

  constructor(
    private readonly connection: PostgresConnection,
    private readonly hnsw: { m: number; efConstruction: number },
  ) {}

  private get s(): string {
    return this.connection.schema;
  }

  private where(): string {
    return `Postgres schema "${this.s}"`;
  }

  private async meta(q: Queryable, key: string): Promise<string | undefined> {
    const { rows } = await q.query<{ value: string }>(
      `SELECT value FROM ${this.s}.meta WHERE key = $1`,
      [key],
    );
    return rows[0]?.value;
  }

  /**
   * The recorded dimension, read on `q` (a transaction's client) or the pool; remembered once
   * known, since only a reset changes it.
   */
  async dimensions(q?: Queryable): Promise<number | undefined> {
    if (this.known !== undefined) return this.known;
    const value = q
      ? await this.meta(q, META_DIMS)
      : (
          await this.connection.query<{ value: string }>(
            `SELECT value FROM ${this.s}.meta WHERE key = $1`,
            [META_DIMS],
          )
        )[0]?.value;
    // Only a committed value is remembered (one read inside a transaction may yet roll back).
    if (value !== undefined && !q) this.known = Number(value);
    return value === undefined ? undefined : Number(value);
  }

  /** Records the dimension and builds the vector indexes for it (under the schema lock). */
  private async record(q: Queryable, dims: number): Promise<void> {
    await q.query(schemaLockSql(this.s));
    await q.query(
      `INSERT INTO ${this.s}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
      [META_DIMS, String(dims)],
    );
    await q.query(vectorIndexSql(this.s, dims, this.hnsw));
  }

  /** A vector to store as a `vector` literal, checked (the first one fixes the dimension). */
  async prepareVector(q: Queryable, vector: number[], what: string): Promise<string> {
    let dims = await this.dimensions(q);
    if (dims === undefined) {
      // No embedder recorded yet: the first vector fixes the dimension.
      dims = firstDimensions(vector, what);
      await this.record(q, dims);
      dims = (await this.dimensions(q)) ?? dims;
    }
    checkVector(vector, dims, what, this.where());
    return toVectorLiteral(normalizeVector(vector));
  }

  queryVector(vector: number[], dims: number): string {
    checkVector(vector, dims, "Query vector", this.where());
    return toVectorLiteral(normalizeVector(vector));
  }

  /** Records the embedder on first use; `EmbedderMismatchError` when another one was. */
  async ensure(model: string, dimensions: number): Promise<void> {
    checkDimensions(dimensions);
    await this.connection.transaction(async (client) => {
      await client.query(schemaLockSql(this.s));
      const storedModel = await this.meta(client, META_MODEL);
      const storedDims = await this.dimensions(client);
      checkEmbedder(
        this.where(),
        { model: storedModel, dimensions: storedDims },
        model,
        dimensions,
      );
      if (storedModel === undefined) {
        await client.query(`INSERT INTO ${this.s}.meta (key, value) VALUES ($1, $2)`, [
          META_MODEL,
          model,
        ]);
      }
      if (storedDims === undefined) await this.record(client, dimensions);
    });
    // Committed (or already recorded): known from now on.
    this.known = dimensions;
  }

  /** Forgets the remembered dimension (after a reset, which removes the record). */
  forget(): void {
    this.known = undefined;
  }
}
