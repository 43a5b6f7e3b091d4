import type Database from "better-sqlite3";
import { SqliteUnavailableError } from "../errors.js";
import nativeRequire from "./native_require.cjs";

/** The loaded driver; only success is cached, so a fixed install is picked up on retry. */
let driver: typeof Database | undefined;

/**
 * Loads `better-sqlite3` on first use, so importing this package never needs the native module
 * (bundles, remote-only backends), and proves its native binding by opening an in-memory
 * database: a missing or broken build fails here with a {@link SqliteUnavailableError} that says
 * how to fix it, before any file is touched.
 */
export function loadSqliteDriver(): typeof Database {
  if (driver) return driver;
  let loaded: typeof Database;
  try {
    loaded = nativeRequire("better-sqlite3") as typeof Database;
  } catch (error) {
    throw new SqliteUnavailableError(
      `The embedded SQLite store needs the package better-sqlite3, which could not be loaded ` +
        `(${firstLine(error)}). It is a dependency of langchain-mem0: reinstall it ` +
        "(`npm install better-sqlite3`), and if you bundle your app, mark better-sqlite3 as " +
        "external. Without SQLite, give Memory another store (`new Memory({ store })`) or use " +
        "another MemoryBackend.",
      { cause: error },
    );
  }
  try {
    new loaded(":memory:").close();
  } catch (error) {
    throw new SqliteUnavailableError(
      `better-sqlite3's native binding could not be loaded (${firstLine(error)}). It is built ` +
        "by the package's install script, which was skipped or ran for another Node.js version. " +
        "Run `npm rebuild better-sqlite3` (after `npm install-scripts approve better-sqlite3` " +
        "where npm blocks install scripts); with pnpm, list better-sqlite3 in " +
        "`pnpm.onlyBuiltDependencies` and run `pnpm rebuild better-sqlite3`; do not install " +
        "with --ignore-scripts. Without SQLite, give Memory another store " +
        "(`new Memory({ store })`) or use another MemoryBackend.",
      { cause: error },
    );
  }
  driver = loaded;
  return loaded;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0].trim();
}
