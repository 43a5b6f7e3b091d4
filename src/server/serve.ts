import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Mem0ConfigError } from "../errors.js";
import { createMem0App, type Mem0AppOptions } from "./app.js";
import { SERVER_KEY_ENV, isLoopback } from "./binding.js";

export interface Mem0ServerOptions extends Mem0AppOptions {
  /** Interface to listen on (default `127.0.0.1`); any other needs `apiKey`. */
  host?: string;
  /** Port (default 8765; 0 picks a free one). */
  port?: number;
  /** Longest wait on shutdown for running requests, then for pending writes, in ms (default 10 000). */
  shutdownTimeoutMs?: number;
}

/** A running memory server. */
export interface Mem0Server {
  /** `http://host:port`; OpenAI clients take `${url}/v1` as their base URL. */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful shutdown: stops accepting connections, lets running requests finish (at most
   * `timeout` ms), flushes the memory writes they queued (at most `timeout` ms more), then
   * closes the facade and its memory.
   */
  close(options?: { timeout?: number }): Promise<void>;
}

/**
 * Starts the OpenAI-compatible memory server (see {@link createMem0App}) on `host:port`. It
 * listens on 127.0.0.1 by default and refuses any other interface without an `apiKey`, since
 * the routes read and delete memories.
 */
export async function startMem0Server(options: Mem0ServerOptions): Promise<Mem0Server> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host) && !options.apiKey) {
    throw new Mem0ConfigError(
      `Refusing to listen on ${host} without an API key: anyone who can reach it could read and ` +
        `delete memories. Pass --api-key (or set ${SERVER_KEY_ENV}), or listen on 127.0.0.1.`,
    );
  }
  const app = createMem0App(options);
  // Own Request/Response objects: replacing the globals would change fetch for the whole process.
  const server: Server = createServer(
    getRequestListener(app.fetch, { overrideGlobalObjects: false }),
  );
  server.listen(options.port ?? 8765, host);
  await Promise.race([
    once(server, "listening"),
    once(server, "error").then(([error]) => {
      throw new Mem0ConfigError(
        `Could not listen on ${host}:${options.port ?? 8765}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }),
  ]);
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close({ timeout = options.shutdownTimeoutMs ?? 10_000 } = {}) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections go as soon as their running request is answered.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const timer = setTimeout(() => server.closeAllConnections(), timeout);
        await closed;
        clearInterval(sweep);
        clearTimeout(timer);
        await options.mem0.close({ timeout });
      })();
      return closing;
    },
  };
}
