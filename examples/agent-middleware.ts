/**
 * A `createAgent` agent with long-term memory as middleware: memories are injected before each
 * model call, and each agent turn is stored once, in the background. The user comes per call
 * through the agent's runtime context.
 */
import { HumanMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { createAgent } from "langchain";
import { z } from "zod";
import { Memory } from "langchain-mem0";
import { mem0Middleware } from "langchain-mem0/agents";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "agent-demo" });

const weather = tool(async ({ city }) => `Rain in ${city}, 7°C.`, {
  name: "get_weather",
  description: "Current weather in a city",
  schema: z.object({ city: z.string().describe("City name, e.g. Oslo") }),
});
const memoryMiddleware = mem0Middleware({ memory });
const agent = createAgent({
  model: new ChatOpenAI({ model: "gpt-4o-mini" }),
  tools: [weather],
  middleware: [memoryMiddleware],
});
const context = { userId: "agent-demo" };

const first = await agent.invoke(
  { messages: [new HumanMessage("I live in Oslo and I cycle to work. Weather in Oslo?")] },
  { context },
);
console.log("turn 1:", first.messages.at(-1)?.content);
await memoryMiddleware.flush(); // the turn is stored in the background

const second = await agent.invoke(
  { messages: [new HumanMessage("Should I take the bike today?")] },
  { context },
);
console.log("turn 2:", second.messages.at(-1)?.content);
console.log(
  "memories:",
  (await memory.getAll(context)).results.map((item) => item.memory),
);

await memoryMiddleware.close();
await memory.close();
