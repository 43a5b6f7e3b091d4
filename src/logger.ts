import { z } from "zod";

/**
 * Where this package's diagnostics go. Messages name the failure and the fix; they never
 * carry user ids, memory text or secrets, so routing them to shared logs is safe.
 */
export interface Mem0Logger {
  warn(message: string): void;
}

/** Checks a `logger` option. */
export const loggerSchema = z.custom<Mem0Logger>(
  (value) => typeof (value as Mem0Logger | undefined)?.warn === "function",
  "must have a warn(message) method",
);

/** The default: `console.warn` with a package prefix. */
export const consoleLogger: Mem0Logger = {
  warn: (message) => console.warn(`[langchain-mem0] ${message}`),
};
