export {
  Mem0ChatModel,
  type Mem0ChatModelCallOptions,
  type Mem0ChatModelFields,
  type MemoryToolsBinding,
} from "./chat_models.js";
export {
  MEMORY_TOOL_NAMES,
  createMemoryTools,
  type MemoryToolName,
  type MemoryToolsOptions,
} from "./tools.js";
export { MemoryRetriever, type MemoryRetrieverOptions } from "./retriever.js";
export {
  ScopedMemory,
  type ScopedAddOptions,
  type ScopedListOptions,
  type ScopedSearchOptions,
} from "./scoped_memory.js";
export {
  MemoryRecall,
  memoryDocuments,
  type MemoryErrorContext,
  type MemoryRecallOptions,
  type RecallCallOptions,
  type RetrievalMode,
} from "./recall.js";
export {
  MEMORY_WRITE_ERROR_EVENT,
  Mem0MemoryCallbackHandler,
  type Mem0MemoryCallbackHandlerOptions,
  type MemoryStorageOptions,
  type WriteTarget,
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
  formatEpisode,
  formatProfile,
  formatRelation,
  type InjectionTarget,
  type MemoryContext,
  type MemoryFormatter,
} from "./formatting.js";
export { BUDGET_DROP_ORDER, approximateTokens, type TokenCounter } from "./budget.js";
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
  DeleteAllMemoryOptions,
  DurableMemoryBackend,
  Episode,
  EpisodeMessage,
  EpisodeSearchOptions,
  GetAllMemoryOptions,
  GetAllResult,
  ManagedMemoryBackend,
  MemoryBackend,
  MemoryEvent,
  MemoryEventType,
  MemoryHistoryEntry,
  MemoryItem,
  MemoryMetadata,
  ProfileBackend,
  ProfileRecord,
  ProfileValue,
  Relation,
  ScoreDetails,
  SearchFilters,
  SearchMemoryOptions,
  SearchResult,
  UpdateMemoryOptions,
} from "./backends/base.js";
export {
  DEFAULT_CONTEXT_WEIGHT,
  DEFAULT_KEYWORD_WEIGHT,
  Memory,
  type MemoryOptions,
  type MemoryStorage,
} from "./backends/memory.js";
export {
  Chat,
  Completions,
  Mem0,
  type ChatModelFactory,
  type CompletionRequestOptions,
  type CompletionTrace,
  type Mem0Options,
} from "./facade/mem0.js";
export type { Mem0CompletionParams } from "./facade/params.js";
export type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionChunkDelta,
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  CompletionUsage,
} from "./facade/openai_format.js";
export {
  DEFAULT_MEM0_HOST,
  MemoryClient,
  type MemoryClientOptions,
  type PlatformAddResult,
} from "./backends/client.js";
export { DEFAULT_EXTRACTION_PROMPT } from "./backends/extraction.js";
export type { MemoryProfileOptions, ProfileDefinition } from "./backends/profile.js";
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
export {
  LangChainVectorStoreAdapter,
  type LangChainVectorStoreAdapterOptions,
  type RowStore,
} from "./stores/langchain_vectorstore.js";
export type { FilterTranslator } from "./stores/langchain_filters.js";
export {
  Mem0SdkBackend,
  mem0CompatibleModel,
  type Mem0Sdk,
  type Mem0SdkBackendOptions,
} from "./backends/mem0_sdk.js";
export {
  DEFAULT_POSTGRES_SCHEMA,
  PostgresStore,
  type PostgresPool,
  type PostgresStoreOptions,
} from "./stores/postgres.js";
export { HashEmbeddings, type HashEmbeddingsParams } from "./embeddings/hash.js";
