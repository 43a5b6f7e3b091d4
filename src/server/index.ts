export { createMem0App, type Mem0AppOptions } from "./app.js";
export { HttpError, toOpenAIError, type OpenAIErrorResponse } from "./errors.js";
export {
  SERVER_KEY_ENV,
  isLoopback,
  startMem0Server,
  type Mem0Server,
  type Mem0ServerOptions,
} from "./serve.js";
