// The tarball smoke test, shared by the ES module and CommonJS scratch projects (their
// `smoke.js` loads the package its own way and hands the exports here). A real round trip:
// the offline OpenAI-compatible server, hash embeddings and a `:memory:` SQLite store.
const nativeModuleLoaded = () =>
  Object.keys(require.cache).some((file) => /[\\/]better-sqlite3[\\/]/.test(file));

module.exports = async function smoke(format, { Mem0ChatModel, Memory, testing, ChatOpenAI }) {
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
    console.log(`smoke ok (${format}): ${found.results.length} memories, injected into the prompt`);
  } finally {
    await model.close();
    await memory.close();
    await server.close();
  }
};
