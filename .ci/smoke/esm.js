import { ChatOpenAI } from "@langchain/openai";
import { Mem0ChatModel, Memory } from "langchain-mem0";
import * as testing from "langchain-mem0/testing";
import smoke from "./run.cjs";

await smoke("esm", { Mem0ChatModel, Memory, testing, ChatOpenAI });
