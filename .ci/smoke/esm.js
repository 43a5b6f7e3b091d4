import { ChatOpenAI } from "@langchain/openai";
import { Mem0, Mem0ChatModel, Memory } from "langchain-mem0";
import * as testing from "langchain-mem0/testing";
import * as server from "langchain-mem0/server";
import * as cli from "langchain-mem0/cli";
import smoke from "./run.cjs";

await smoke("esm", { Mem0, Mem0ChatModel, Memory, testing, ChatOpenAI, server, cli });
