/**
 * An LCEL chain with memory: prompt → Mem0ChatModel → string parser.
 * The second turn is answered from what the first turn taught the memory.
 */
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Mem0ChatModel, Memory } from "langchain-mem0";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "lcel-demo" }); // start this demo from a clean slate

const model = new Mem0ChatModel({
  model: new ChatOpenAI({ model: "gpt-4o-mini" }),
  memory,
  userId: "lcel-demo",
});

const chain = ChatPromptTemplate.fromMessages([
  ["system", "You are a friendly cooking assistant."],
  ["human", "{input}"],
])
  .pipe(model)
  .pipe(new StringOutputParser());

console.log("> I'm vegetarian and I love spicy food.");
console.log(await chain.invoke({ input: "I'm vegetarian and I love spicy food." }));

await model.flush(); // the first turn is stored in the background; wait for it before asking

console.log("> What should I cook tonight?");
console.log(await chain.invoke({ input: "What should I cook tonight?" }));

console.log(
  "Memories:",
  (await memory.getAll({ userId: "lcel-demo" })).results.map((m) => m.memory),
);
await model.close();
await memory.close();
