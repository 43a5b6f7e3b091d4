const { ChatOpenAI } = require("@langchain/openai");
const { Mem0, Mem0ChatModel, Memory } = require("langchain-mem0");
const testing = require("langchain-mem0/testing");
const server = require("langchain-mem0/server");
const cli = require("langchain-mem0/cli");
const smoke = require("./run.cjs");

smoke("cjs", { Mem0, Mem0ChatModel, Memory, testing, ChatOpenAI, server, cli }).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
