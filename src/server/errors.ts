import {
  Mem0APIError,
  Mem0AuthenticationError,
  Mem0ClosedError,
  Mem0ConfigError,
  Mem0Error,
  Mem0InputError,
  Mem0RateLimitError,
  Mem0TimeoutError,
  MissingScopeError,
} from "../errors.js";

/** An error body in OpenAI's shape, with the HTTP status to send it with. */
export interface OpenAIErrorResponse {
  status: 400 | 401 | 404 | 413 | 429 | 500 | 501 | 502 | 503 | 504;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
}

/** A refusal the server decides itself (bad route, auth, size, missing feature). */
export class HttpError extends Error {
  constructor(
    readonly status: OpenAIErrorResponse["status"],
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

function response(
  status: OpenAIErrorResponse["status"],
  message: string,
  code: string | null = null,
): OpenAIErrorResponse {
  const type =
    status === 401
      ? "authentication_error"
      : status === 429
        ? "rate_limit_error"
        : status >= 500
          ? "server_error"
          : "invalid_request_error";
  return { status, body: { error: { message, type, param: null, code } } };
}

/**
 * Maps an error to OpenAI's error shape: the caller's mistakes are 4xx with the package's own
 * message (which names the fix); failures of a model provider or the memory platform are 502;
 * anything unexpected is a 500 without internals.
 */
export function toOpenAIError(error: unknown): OpenAIErrorResponse {
  if (error instanceof HttpError) return response(error.status, error.message, error.code);
  if (error instanceof Mem0InputError || error instanceof MissingScopeError)
    return response(400, error.message, "invalid_request");
  if (error instanceof Mem0ConfigError) return response(400, error.message, "invalid_config");
  if (error instanceof Mem0ClosedError) return response(503, "The server is shutting down.");
  if (error instanceof Mem0TimeoutError) return response(504, error.message, "timeout");
  if (error instanceof Mem0RateLimitError) return response(429, error.message, "rate_limited");
  if (error instanceof Mem0AuthenticationError || error instanceof Mem0APIError) {
    return response(502, error.message, "memory_backend_error");
  }
  if (error instanceof Mem0Error) return response(500, error.message);
  // Errors of the model provider's client (OpenAI, Anthropic, ...) carry an HTTP status.
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === "number") {
    const message = (error as Error).message ?? String(error);
    if (status === 429)
      return response(429, `The model provider rate limited the call: ${message}`);
    return response(502, `The model provider failed (${status}): ${message}`, "provider_error");
  }
  if ((error as Error | null)?.name === "AbortError") return response(504, "The call was aborted.");
  return response(500, "The server failed to answer; see its log.");
}
