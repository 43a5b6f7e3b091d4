// The tarball smoke test, shared by the ES module and CommonJS scratch projects (their
// `smoke.js` loads the package its own way and hands the exports here). A real round trip:
// the offline OpenAI-compatible server, hash embeddings and a `:memory:` SQLite store.
const nativeModuleLoaded = () =>
  Object.keys(require.cache).some((file) => /[\\/]better-sqlite3[\\/]/.test(file));

module.exports = async function smoke(
  format,
  { Mem0, Mem0ChatModel, Memory, testing, ChatOpenAI, server: serverEntry, cli },
) {
  if (nativeModuleLoaded()) throw new Error("importing langchain-mem0 loaded better-sqlite3");
  const server = await testing.FakeOpenAIServer.start();
  server.setHandler(testing.createDemoHandler());
  const chat = (model) =>
    new ChatOpenAI({ model, apiKey: "offline", configuration: { baseURL: server.baseURL } });
  const memory = new Memory({
    llm: chat("extractor"),
    embeddings: new testing.HashEmbeddings(),
    path: ":memory:",
  });
  if (!nativeModuleLoaded()) throw new Error("opening a SQLite store did not load better-sqlite3");
  const model = new Mem0ChatModel({ model: chat("gpt-4o-mini"), memory, userId: "alice" });
  try {
    await model.invoke("I'm vegetarian and I love spicy food.");
    await model.flush();
    const found = await memory.search("vegetarian food", { userId: "alice" });
    if (found.results.length === 0) throw new Error("the stored conversation was not found");
    await model.invoke("What should I cook tonight?");
    const prompt = server.chatRequests.at(-1).lastUserText;
    if (!prompt.includes("vegetarian")) throw new Error(`no memory in the prompt: ${prompt}`);
    // The server entry: the OpenAI-compatible endpoint and the inspector over the same memory.
    const running = await serverEntry.startMem0Server({ mem0: new Mem0({ memory }), port: 0 });
    const health = await (await fetch(`${running.url}/healthz`)).json();
    const page = await (await fetch(`${running.url}/`)).text();
    const listed = await (await fetch(`${running.url}/v1/memories?user_id=alice`)).json();
    await running.close();
    if (
      health.status !== "ok" ||
      !page.includes("Memory inspector") ||
      listed.results.length === 0
    ) {
      throw new Error("the server entry does not serve health, the inspector or the memories");
    }
    if (typeof cli.createProgram !== "function")
      throw new Error("the cli entry has no createProgram");
    console.log(
      `smoke ok (${format}): ${found.results.length} memories, injected into the prompt; server and cli entries work`,
    );
  } finally {
    await model.close();
    await memory.close();
    await server.close();
  }
};
