import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Starts `__tests__/fixtures/<script>` in a Node process of its own (TypeScript via tsx). */
export function startWorker(script: string, args: string[]): ChildProcessWithoutNullStreams {
  return spawn(
    process.execPath,
    ["--import", "tsx", path.join(root, "__tests__", "fixtures", script), ...args],
    { cwd: root, env: { ...process.env, NODE_OPTIONS: "" } },
  );
}

/** The worker's whole stdout once it exits 0 (its stderr in the error otherwise). */
export function output(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}: ${err}`)),
    );
  });
}

/**
 * Waits until every worker printed its first line ("ready"), then releases them all at once
 * through stdin; resolves with what each printed after that.
 */
export async function runTogether(children: ChildProcessWithoutNullStreams[]): Promise<string[]> {
  const outputs = children.map(output);
  await Promise.all(
    children.map(
      (child) => new Promise<void>((resolve) => child.stdout.once("data", () => resolve())),
    ),
  );
  for (const child of children) child.stdin.write("go\n");
  return (await Promise.all(outputs)).map((out) => out.split("\n").at(-1) ?? "");
}
