export { createProgram, run } from "./program.js";
export {
  CliError,
  EXIT,
  openMemory,
  type GlobalOptions,
  type OpenedMemory,
  type OpenMemoryOptions,
  type ScopeOptions,
} from "./context.js";
