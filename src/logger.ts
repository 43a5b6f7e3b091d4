/**
 * Where this package's diagnostics go. Messages name the failure and the fix; they never
 * carry user ids, memory text or secrets, so routing them to shared logs is safe.
 */
export interface Mem0Logger {
  warn(message: string): void;
}

/** The default: `console.warn` with a package prefix. */
export const consoleLogger: Mem0Logger = {
  warn: (message) => console.warn(`[langchain-mem0] ${message}`),
};
