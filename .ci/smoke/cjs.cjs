const { ChatOpenAI } = require("@langchain/openai");
const { Mem0ChatModel, Memory } = require("langchain-mem0");
const testing = require("langchain-mem0/testing");
const smoke = require("./run.cjs");

smoke("cjs", { Mem0ChatModel, Memory, testing, ChatOpenAI }).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
