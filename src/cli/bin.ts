#!/usr/bin/env node
import { run } from "./program.js";

void run(process.argv).then((code) => {
  process.exitCode = code;
  // Idle keep-alive sockets of provider clients must not hold a finished command open.
  setTimeout(() => process.exit(code), 1000).unref();
});
