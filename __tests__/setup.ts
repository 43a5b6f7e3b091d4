import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";

// Core runs callback handlers in the background; drain them so no handler outlives its suite.
afterAll(async () => {
  await awaitAllCallbacks();
});
