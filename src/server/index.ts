export { createMem0App, type Mem0AppOptions } from "./app.js";
export { HttpError, toOpenAIError, type OpenAIErrorResponse } from "./errors.js";
export { SERVER_KEY_ENV, isLoopback } from "./binding.js";
export { startMem0Server, type Mem0Server, type Mem0ServerOptions } from "./serve.js";
