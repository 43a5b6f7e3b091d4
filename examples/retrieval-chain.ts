/**
 * A user's memories as a retriever in an LCEL retrieval chain.
 */
import type { Document } from "@langchain/core/documents";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { RunnablePassthrough, RunnableSequence } from "@langchain/core/runnables";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "langchain-mem0";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "retriever-demo" });
await memory.add(["I'm allergic to peanuts.", "I play the cello."], {
  userId: "retriever-demo",
  infer: false,
});

const retriever = memory.asRetriever({ scope: { userId: "retriever-demo" }, topK: 3 });
const chain = RunnableSequence.from([
  {
    context: retriever.pipe((docs: Document[]) =>
      docs.map((doc) => `- ${doc.pageContent}`).join("\n"),
    ),
    question: new RunnablePassthrough(),
  },
  ChatPromptTemplate.fromMessages([
    ["system", "What you know about the user:\n{context}"],
    ["human", "{question}"],
  ]),
  new ChatOpenAI({ model: "gpt-4o-mini" }),
  new StringOutputParser(),
]);

const docs = await retriever.invoke("food allergies");
console.log(
  "retrieved:",
  docs.map((doc) => [doc.pageContent, Number(doc.metadata.score).toFixed(2)]),
);
console.log("chain:", await chain.invoke("Can I eat satay?"));
await memory.close();
