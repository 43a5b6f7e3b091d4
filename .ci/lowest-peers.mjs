// Prints `name@version` of the lowest version each peer range in package.json admits, one per
// line, so CI installs exactly the floor it promises. Ranges must be `^x.y.z`: anything else
// has no single obvious floor and fails loudly here instead of testing the wrong version.
import { readFileSync } from "node:fs";

const { peerDependencies = {} } = JSON.parse(readFileSync("package.json", "utf8"));
for (const [name, range] of Object.entries(peerDependencies)) {
  const floor = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!floor) throw new Error(`peer ${name}: range ${range} is not of the form ^x.y.z`);
  console.log(`${name}@${floor[1]}`);
}
