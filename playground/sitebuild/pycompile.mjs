// Compile the .py files of wheels (and of the standard library's zip) to bytecode with
// Pyodide's own CPython (3.13, from the npm core), so the page imports the standard library,
// bokeh, panel and our code without compiling them first.
//   node pycompile.mjs <pyodide dir> <in.whl> <out.whl> <sourceless|cached> [...more triples]
// sourceless: each foo.py becomes foo.pyc (third-party wheels: smaller, fastest import);
// cached: the sources stay and __pycache__/foo.cpython-313.pyc is added (our wheel: tracebacks
// and inspect.getsource keep working). Both use unchecked-hash pycs, which never go stale
// against a file's mtime (wheels carry none that matter).
// Paths are made real (symbolic links resolved) here, before they cross into Pyodide's file
// system: NODEFS resolves a link's target inside Pyodide's tree (/work/... not /host/work/...).
// A failure prints "pycompile failed: <wheel>" and Python's traceback, not node's stack (which
// quotes Pyodide's minified JavaScript), and exits 1.
import fs from "node:fs";
import path from "node:path";

const real = (p) => fs.realpathSync(path.resolve(p));
// the output does not exist yet: its folder is made real
const realOut = (p) => path.join(real(path.dirname(path.resolve(p))), path.basename(p));

function fail(what, e) {
  // a PythonError's message is the whole Python traceback; anything else: its message only
  console.error(`pycompile failed: ${what}\n${(e && e.message) || e}`);
  process.exit(1);
}

const [core, ...jobs] = process.argv.slice(2);
let py;
try {
  const { loadPyodide } = await import(path.join(real(core), "pyodide.mjs"));
  py = await loadPyodide({ indexURL: real(core) + "/" });
} catch (e) {
  fail(`starting Pyodide from ${core}`, e);
}
py.FS.mkdirTree("/host");
py.FS.mount(py.FS.filesystems.NODEFS, { root: "/" }, "/host");
py.runPython(`
import base64, hashlib, importlib.util, io, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def compile_wheel(src, dst, mode):
    out, record_name, lines, n = io.BytesIO(), None, [], 0
    with zipfile.ZipFile("/host" + src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                record_name = item.filename
                continue
            files = [(item.filename, data)]
            if item.filename.endswith(".py"):
                try:
                    code = compile(data, item.filename, "exec", dont_inherit=True, optimize=0)
                except SyntaxError:
                    code = None  # templates and test data that are not Python: left as they are
                if code is not None:
                    pyc = _code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False)
                    n += 1
                    if mode == "sourceless":
                        files = [(item.filename[:-3] + ".pyc", pyc)]
                    else:
                        folder, _, name = item.filename.rpartition("/")
                        cached = (folder + "/" if folder else "") + "__pycache__/" + name[:-3] + ".cpython-313.pyc"
                        files.append((cached, pyc))
            for name, blob in files:
                zout.writestr(zipfile.ZipInfo(name, item.date_time), blob, zipfile.ZIP_DEFLATED)
                lines.append(_record_line(name, blob))
        if record_name:
            zout.writestr(record_name, "\\n".join(lines + [f"{record_name},,"]) + "\\n")
    with open("/host" + dst, "wb") as f:
        f.write(out.getvalue())
    return n
`);
const compile = py.globals.get("compile_wheel");
for (let i = 0; i + 2 < jobs.length; i += 3) {
  try {
    const [src, dst, mode] = [real(jobs[i]), realOut(jobs[i + 1]), jobs[i + 2]];
    const n = compile(src, dst, mode);
    console.log(`${path.basename(src)}: ${n} modules compiled (${mode})`);
  } catch (e) {
    fail(jobs[i], e);
  }
}
