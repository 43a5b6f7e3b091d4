import type pg from "pg";
import { PostgresUnavailableError } from "../errors.js";
import nativeRequire from "./native_require.cjs";

/** The `pg` module as this package uses it. */
export type PgModule = typeof pg;

/** The loaded driver; only success is cached, so a later install is picked up on retry. */
let driver: PgModule | undefined;

/**
 * Loads `pg` (node-postgres) on first use: it is an optional peer, so importing this package
 * never needs it. A missing package fails here with a {@link PostgresUnavailableError} that
 * says how to fix it.
 */
export function loadPgDriver(): PgModule {
  if (driver) return driver;
  try {
    driver = nativeRequire("pg") as PgModule;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new PostgresUnavailableError(
      `The Postgres store needs the package pg, which could not be loaded ` +
        `(${message.split("\n", 1)[0].trim()}). Install it next to langchain-mem0 ` +
        "(`npm install pg`), and if you bundle your app, mark pg as external.",
      { cause: error },
    );
  }
  return driver;
}
