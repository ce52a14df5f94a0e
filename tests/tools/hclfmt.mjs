// terraform fmt without terraform: HashiCorp's formatter (compiled to wasm by @cdktf/hcl-tools).
// Usage: node tests/tools/hclfmt.mjs FILE...   -> JSON {"FILE": "<formatted text>", ...} on stdout
//        node tests/tools/hclfmt.mjs --check FILE...  -> prints "DIFF FILE" per non-fmt-clean file,
//                                                       exit 1 when any differs.
import { readFileSync } from "node:fs";
import { format } from "@cdktf/hcl-tools";

const args = process.argv.slice(2);
const check = args[0] === "--check";
const files = check ? args.slice(1) : args;
const formatted = {};
let differs = 0;
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const out = await format(text);
  formatted[file] = out;
  if (check && out !== text) {
    differs += 1;
    console.log(`DIFF ${file}`);
  }
}
if (!check) {
  process.stdout.write(JSON.stringify(formatted));
}
process.exitCode = differs ? 1 : 0;
