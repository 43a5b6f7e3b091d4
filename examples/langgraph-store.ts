/**
 * Mem0's memories as a LangGraph long-term store: graph nodes put, search, get and delete
 * items in the `["memories", userId]` namespace, and the items are memories that
 * `Mem0ChatModel`, the middleware and the tools see too.
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "langchain-mem0";
import { Mem0Store } from "langchain-mem0/langgraph";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "store-demo" });
const store = new Mem0Store({ memory }); // namespaces ["memories", "<user id>"]

const State = Annotation.Root({ question: Annotation<string>(), answer: Annotation<string>() });
const graph = new StateGraph(State)
  .addNode("remember", async (_state, config) => {
    const namespace = ["memories", String(config.configurable?.user_id)];
    await config.store!.put(namespace, "diet", { content: "Eats no meat", kind: "diet" });
    await config.store!.put(namespace, "sport", { content: "Swims on Fridays", kind: "habit" });
    return {};
  })
  .addNode("recall", async (state, config) => {
    const namespace = ["memories", String(config.configurable?.user_id)];
    const [best] = await config.store!.search(namespace, { query: state.question, limit: 1 });
    return { answer: `${best?.key}: ${best?.value.content}` };
  })
  .addEdge(START, "remember")
  .addEdge("remember", "recall")
  .addEdge("recall", END)
  .compile({ store });

const result = await graph.invoke(
  { question: "What does the user eat?" },
  { configurable: { user_id: "store-demo" } },
);
console.log("graph answer:", result.answer);

console.log("get:", (await store.get(["memories", "store-demo"], "sport"))?.value);
await store.delete(["memories", "store-demo"], "sport");
console.log(
  "memories left:",
  (await memory.getAll({ userId: "store-demo" })).results.map((item) => item.memory),
);
await memory.close();
