/** Environment variable the CLI reads for the server's bearer key. */
export const SERVER_KEY_ENV = "LANGCHAIN_MEM0_SERVER_KEY";

/** Whether a host name or address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
