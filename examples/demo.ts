/**
 * The main job in two sessions: session 1 tells the assistant about the user, session 2 is a
 * new conversation that answers from what session 1 stored. Prints what was stored, what was
 * retrieved and the exact prompt the model received.
 *
 *   npm run demo
 *
 * With no provider configured it runs offline: a scripted stand-in model on the bundled
 * OpenAI-compatible test server (127.0.0.1), real memory on the embedded SQLite store. With
 * OPENAI_API_KEY (or OPENAI_BASE_URL for a local server, or LANGCHAIN_MEM0_MODEL with that
 * provider's key, e.g. anthropic:claude-sonnet-4-5) the same script talks to the real model.
 */
import { Mem0, type CompletionTrace, type Memory } from "langchain-mem0";
import { FakeOpenAIServer, createDemoHandler } from "langchain-mem0/testing";

const openAIish = Boolean(process.env.OPENAI_API_KEY || process.env.OPENAI_BASE_URL);
const configured = openAIish || Boolean(process.env.LANGCHAIN_MEM0_MODEL);
let offline: FakeOpenAIServer | undefined;
if (!configured) {
  // 1536 dimensions, like text-embedding-3-small.
  offline = await FakeOpenAIServer.start({ embeddingDimensions: 1536 });
  offline.setHandler(createDemoHandler());
  process.env.OPENAI_BASE_URL = offline.baseURL;
  process.env.OPENAI_API_KEY = "offline-demo";
  console.log(
    "OFFLINE DEMO: no model provider is configured (OPENAI_API_KEY, OPENAI_BASE_URL or\n" +
      "LANGCHAIN_MEM0_MODEL), so the 'model' is a scripted, rule-based stand-in served by the\n" +
      `bundled OpenAI-compatible test server at ${offline.baseURL}. Its answers are canned;\n` +
      "the memory (extraction requests, embeddings, SQLite store, retrieval) is real.\n",
  );
}

const model = process.env.LANGCHAIN_MEM0_MODEL ?? "openai:gpt-4o-mini";
const [provider, name] = model.includes(":") ? model.split(/:(.*)/s) : ["openai", model];
const userId = "demo-alice";
const mem0 = new Mem0({
  config: {
    // The embedded default store; a separate file offline, so scripted vectors never mix with real ones.
    vector_store: {
      provider: "sqlite",
      config: { path: `.langchain-mem0/${offline ? "demo-offline" : "demo"}.db` },
    },
    llm: { provider, config: { model: name } },
    // OpenAI's embedder when there is an OpenAI-compatible endpoint, else the offline one.
    embedder: openAIish || offline ? { provider: "openai" } : { provider: "hash" },
  },
});
const memory = (await mem0.memory) as Memory;
await memory.deleteAll({ userId }); // start from scratch on every run

console.log(`model: ${model}${offline ? " (scripted stand-in)" : ""}\n`);
console.log("=== Session 1 ===");
const said = "Hi! I'm Alice. I'm vegetarian and I'm allergic to peanuts.";
console.log(`user:      ${said}`);
const first = await mem0.chat.completions.create({
  model,
  messages: [{ role: "user", content: said }],
  user_id: userId,
});
console.log(`assistant: ${first.choices[0].message.content}`);
await mem0.flush(); // storage runs in the background; wait for it before reading it back

const stored = await memory.getAll({ userId });
console.log("\nStored in memory after session 1:");
for (const item of stored.results) console.log(`  - ${item.memory}`);

console.log("\n=== Session 2 (a new conversation: none of session 1's messages) ===");
const asked = "Can you suggest a dinner recipe for me tonight?";
console.log(`user:      ${asked}`);
let trace: CompletionTrace | undefined;
const second = await mem0.chat.completions.create(
  { model, messages: [{ role: "user", content: asked }], user_id: userId },
  { onTrace: (used) => (trace = used) },
);
console.log("\nRetrieved from memory:");
for (const item of trace?.memories ?? []) {
  console.log(`  - ${item.memory} (score ${item.score?.toFixed(2) ?? "?"})`);
}
console.log("\nExact prompt the model received:");
for (const message of trace?.prompt ?? []) {
  console.log(`--- ${message.role} ---\n${message.content}`);
}
console.log(`\nassistant: ${second.choices[0].message.content}`);

await mem0.close();
await offline?.close();
