export {
  Mem0ChatModel,
  type Mem0ChatModelCallOptions,
  type Mem0ChatModelFields,
  type MemoryErrorContext,
  type RetrievalMode,
} from "./chat_models.js";
export {
  MEMORY_WRITE_ERROR_EVENT,
  Mem0MemoryCallbackHandler,
  type Mem0MemoryCallbackHandlerOptions,
  type MemoryWriteFailure,
  type StoreMode,
} from "./callbacks.js";
export {
  WriteQueue,
  type FlushOptions,
  type WriteOutcome,
  type WriteQueueOptions,
  type WriteTask,
} from "./write_queue.js";
export {
  DEFAULT_MEMORY_SYSTEM_PROMPT,
  escapeMemoryText,
  formatMemoryBlock,
  formatRelation,
  type InjectionTarget,
  type MemoryFormatter,
} from "./formatting.js";
export {
  BUILT_IN_DETECTORS,
  Redactor,
  type RedactFunction,
  type RedactOption,
  type RedactOptions,
  type RedactPattern,
} from "./redaction.js";
export type { MemoryScope } from "./scope.js";
export type { Mem0Logger } from "./logger.js";
export * from "./errors.js";
export type {
  AddMemoryOptions,
  AddResult,
  DurableMemoryBackend,
  MemoryBackend,
  MemoryEvent,
  MemoryEventType,
  MemoryItem,
  MemoryMetadata,
  Relation,
  ScoreDetails,
  SearchFilters,
  SearchMemoryOptions,
  SearchResult,
} from "./backends/base.js";
export {
  DEFAULT_CONTEXT_WEIGHT,
  DEFAULT_KEYWORD_WEIGHT,
  Memory,
  type DeleteAllMemoryOptions,
  type GetAllMemoryOptions,
  type GetAllResult,
  type MemoryHistoryEntry,
  type MemoryOptions,
  type MemoryStorage,
  type UpdateMemoryOptions,
} from "./backends/memory.js";
export { DEFAULT_EXTRACTION_PROMPT } from "./backends/extraction.js";
export type { GraphMemory, GraphOptions } from "./backends/graph.js";
export type {
  EmbedderConfig,
  EmbedderSpec,
  GraphStoreSpec,
  HistoryStoreSpec,
  LlmConfig,
  LlmSpec,
  MemoryConfig,
  RerankerSpec,
  VectorStoreConfig,
  VectorStoreSpec,
} from "./backends/config.js";
export type * from "./stores/base.js";
export type { FieldCondition, FilterScalar, MetadataFilter } from "./stores/filters.js";
export {
  DEFAULT_APPROXIMATE_FROM,
  DEFAULT_SQLITE_PATH,
  SqliteStore,
  type SqliteStoreOptions,
} from "./stores/sqlite.js";
export { HashEmbeddings, type HashEmbeddingsParams } from "./embeddings/hash.js";
