export { hashEmbedding, HashEmbeddings, type HashEmbeddingsParams } from "../embeddings/hash.js";
export {
  FakeOpenAIServer,
  type FakeChatHandler,
  type FakeChatMessage,
  type FakeChatReply,
  type FakeChatRequest,
  type FakeEmbeddingRequest,
  type FakeFault,
  type FakeFaultTarget,
  type FakeOpenAIServerOptions,
  type FakeRecordedRequest,
  type FakeToolCall,
  type FakeUsage,
} from "./server.js";
export { createDemoHandler } from "./demo.js";
export { parseExtractionInput, type ParsedExtractionInput } from "./extraction_input.js";
export {
  FakeMem0Platform,
  type FakeMem0Fault,
  type FakeMem0Memory,
  type FakeMem0PlatformOptions,
  type FakeMem0Request,
} from "./platform_server.js";
