// The offline bundle's start-up snapshot, made at build time with the bundle's own Pyodide
// under node: what site/js/snapshot.js makes in a visitor's browser after the first visit,
// here for the first visit itself (the bundle is served from the visitor's own machine, so
// its 25 MB cost no network). Its JavaScript state is empty (no reference to node's globals),
// which is what lets a browser worker restore it.
//   node snapshot.mjs <pyodide dir> <out file> <json list of standard-library modules>
import fs from "node:fs";
import path from "node:path";

const [core, out, importsFile] = process.argv.slice(2);
const { loadPyodide } = await import(path.resolve(core, "pyodide.mjs"));
const py = await loadPyodide({ indexURL: path.resolve(core) + "/", _makeSnapshot: true });
const names = JSON.parse(fs.readFileSync(importsFile, "utf8"));
const skipped = py.runPython(`def _descent_skipped(names):
    out = []
    for n in names:
        try: __import__(n)
        except Exception: out.append(n)
    return " ".join(out)
_descent_skipped(${JSON.stringify(names)})`);
py.runPython("del _descent_skipped");
const bytes = py.makeMemorySnapshot();
fs.writeFileSync(out, bytes);
console.log(`${bytes.length} bytes; not in this Pyodide: ${skipped || "none"}`);
