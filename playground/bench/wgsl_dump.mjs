// Dump the WGSL that site/webgpu/matmul.js generates (its own kernel() and CONFIG, unchanged)
// to JSON, for playground/bench/wgsl_native.py to run outside the browser.
//   node playground/bench/wgsl_dump.mjs OUT.json
// matmul.js is an ES module under a package.json without "type": "module", so it is imported
// from a data: URL of its exact bytes; the sha256 of those bytes goes into the JSON.
import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

const path = fileURLToPath(new URL("../../site/webgpu/matmul.js", import.meta.url));
const src = readFileSync(path);
const mod = await import("data:text/javascript;base64," + src.toString("base64"));
const { TM, TN, code } = mod.default.kernel(mod.CONFIG);
const out = { source: "site/webgpu/matmul.js", sha256: createHash("sha256").update(src).digest("hex"),
              config: mod.CONFIG, TM, TN, code };
writeFileSync(process.argv[2] || "wgsl.json", JSON.stringify(out, null, 1));
console.log(`wrote ${process.argv[2] || "wgsl.json"}: TM=${TM} TN=${TN}, ${code.length} chars of WGSL, sha256 ${out.sha256.slice(0, 12)}`);
