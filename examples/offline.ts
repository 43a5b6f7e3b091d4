/**
 * Runs the examples without an API key: starts the offline OpenAI-compatible server with a
 * rule-based demo model and points the examples at it through OPENAI_BASE_URL.
 *
 *   npm run examples              # every example
 *   npm run examples -- lcel-chain
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FakeOpenAIServer, createDemoHandler } from "langchain-mem0/testing";

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const examples = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "offline.ts")
  .filter((file) => wanted.length === 0 || wanted.includes(path.basename(file, ".ts")));

// 1536 dimensions, like text-embedding-3-small, so the store also works with real OpenAI later.
const server = await FakeOpenAIServer.start({ embeddingDimensions: 1536 });
server.setHandler(createDemoHandler());
let failed = 0;
for (const file of examples) {
  console.log(`\n=== ${file} ===`);
  // Asynchronous spawn: the server answers from this process's event loop.
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, file)], {
    stdio: "inherit",
    env: { ...process.env, OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: "offline-demo" },
  });
  const [code] = await once(child, "exit");
  if (code !== 0) failed++;
}
await server.close();
console.log(`\nexamples: ${examples.length - failed} ok, ${failed} failing`);
process.exit(failed > 0 ? 1 : 0);
