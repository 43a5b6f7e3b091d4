/**
 * Memory inside LangGraph: a StateGraph node, and a `createAgent` agent with a tool.
 * The user id comes per call through `configurable`, as LangGraph apps usually pass it.
 */
import { HumanMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { createAgent } from "langchain";
import { z } from "zod";
import { Mem0ChatModel, Memory } from "langchain-mem0";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "graph-demo" });
const model = new Mem0ChatModel({ model: new ChatOpenAI({ model: "gpt-4o-mini" }), memory });
const config = { configurable: { user_id: "graph-demo" } };

// 1. A StateGraph node.
const graph = new StateGraph(MessagesAnnotation)
  .addNode("assistant", async (state, nodeConfig) => ({
    messages: [await model.invoke(state.messages, nodeConfig)],
  }))
  .addEdge(START, "assistant")
  .addEdge("assistant", END)
  .compile();

const turn = await graph.invoke(
  { messages: [new HumanMessage("I live in Oslo and I cycle to work.")] },
  config,
);
console.log("graph:", turn.messages.at(-1)?.content);
await model.flush();

// 2. A prebuilt agent with a tool; memory tells it where the user lives.
const weather = tool(async ({ city }) => `It is raining in ${city}, 7°C.`, {
  name: "get_weather",
  description: "Current weather in a city",
  schema: z.object({ city: z.string().describe("City name, e.g. Oslo") }),
});
const agent = createAgent({ model, tools: [weather] });
const answer = await agent.invoke(
  { messages: [new HumanMessage("Do I need a raincoat for my ride in Oslo?")] },
  config,
);
console.log("agent:", answer.messages.at(-1)?.content);

await model.close();
await memory.close();
