/**
 * Memory the agent manages on purpose: `search_memory`, `save_memory`, `update_memory` and
 * `forget_memory`, scoped by the developer (here the runtime context), never by the model.
 * Then the same tools run inside `Mem0ChatModel` with `memoryTools: true`.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { createAgent } from "langchain";
import { Mem0ChatModel, Memory, createMemoryTools } from "langchain-mem0";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "tools-demo" });

// 1. The tools in an agent: the scope comes from the context of each call.
const agent = createAgent({
  model: new ChatOpenAI({ model: "gpt-4o-mini" }),
  tools: createMemoryTools(memory, { include: ["save_memory", "search_memory"], infer: false }),
});
const result = await agent.invoke(
  { messages: [new HumanMessage("Please remember that my sister is called Ingrid.")] },
  { context: { userId: "tools-demo" } },
);
console.log("agent:", result.messages.at(-1)?.content);

// 2. The wrapper runs memory tool calls itself, next to any tools bound by the caller.
const model = new Mem0ChatModel({
  model: new ChatOpenAI({ model: "gpt-4o-mini" }),
  memory,
  userId: "tools-demo",
  memoryTools: true,
});
const answer = await model.invoke("What do you remember about my family?");
console.log("wrapper:", answer.content);

console.log(
  "memories:",
  (await memory.getAll({ userId: "tools-demo" })).results.map((item) => item.memory),
);
await model.close();
await memory.close();
