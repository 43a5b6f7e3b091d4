/**
 * Existing ChatOpenAI code gets memory by swapping one line.
 */
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Mem0ChatModel, Memory } from "langchain-mem0";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "swap-demo" });

// Before: const model = new ChatOpenAI({ model: "gpt-4o-mini" });
const model = new Mem0ChatModel({
  model: new ChatOpenAI({ model: "gpt-4o-mini" }),
  memory,
  userId: "swap-demo",
});

const system = new SystemMessage("You are a concise travel assistant.");
const first = await model.invoke([
  system,
  new HumanMessage("My home airport is Lyon and I hate early flights."),
]);
console.log(first.content);
await model.flush();

// A new conversation, days later: the model still knows.
for await (const chunk of await model.stream([
  system,
  new HumanMessage("Book me a flight to Rome?"),
])) {
  process.stdout.write(String(chunk.content));
}
process.stdout.write("\n");
await model.close();
await memory.close();
