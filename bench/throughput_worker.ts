/**
 * One app instance of the throughput benchmark, in a process of its own:
 * `throughput_worker.ts <store> <baseURL> <instance> <adds>` where `<store>` is a SQLite file or
 * `postgres://...#schema`. Waits for "go" on stdin, runs `<adds>` inferred adds (one user per
 * add, so instances never wait on each other's owner) and prints the elapsed milliseconds.
 */
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { PostgresStore } from "../src/stores/postgres.js";

const [target, baseURL, instance, adds] = process.argv.slice(2);
const configuration = { baseURL };
const storage = target.startsWith("postgres")
  ? {
      store: new PostgresStore({
        connectionString: target.split("#")[0],
        schema: target.split("#")[1],
      }),
    }
  : { path: target };
const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration, maxRetries: 0 }),
  embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration, maxRetries: 0 }),
  ...storage,
  recoverOnOpen: false,
});
// Connect and check the embedder before the clock starts.
await memory.search("warm up", { userId: `warm-${instance}` });
process.stdout.write("ready\n");
process.stdin.once("data", async () => {
  const started = performance.now();
  for (let i = 0; i < Number(adds); i++) {
    await memory.add(`I visited city number ${i} on trip ${instance}`, {
      userId: `traveller-${instance}-${i}`,
    });
  }
  process.stdout.write(String(performance.now() - started));
  await memory.close();
  process.exit(0);
});
