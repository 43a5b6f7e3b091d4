import { randomUUID } from "node:crypto";
import pg from "pg";

/** The database of the *.int.test.ts files (scripts/with-postgres.sh sets it). */
export const DATABASE_URL = process.env.DATABASE_URL;

/**
 * `describe` when a database is configured, otherwise a skipped `describe` whose name says
 * how to run it, so a run without Postgres is visibly not a pass.
 */
export const describePostgres: jest.Describe = DATABASE_URL
  ? describe
  : (((name: string, fn: () => void) =>
      describe.skip(
        `${name} (skipped: set DATABASE_URL, e.g. scripts/with-postgres.sh npm run test:int)`,
        fn,
      )) as jest.Describe);

/** A schema name of its own per test, so tests never see each other's rows. */
export function uniqueSchema(prefix = "t"): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

/** Drops the schemas the tests created. */
export async function dropSchemas(schemas: string[]): Promise<void> {
  if (!DATABASE_URL || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
