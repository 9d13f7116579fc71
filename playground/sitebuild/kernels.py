"""Build site/wasm/kernels.wasm from site/wasm/{kernels,images,seq,attn}.c with Debian's clang + lld.

    python -m playground.sitebuild.kernels [OUT]        (also: make site/wasm/kernels.wasm)

Two modules from the same sources: OUT (SIMD128: every browser Pyodide runs in) and, beside
it, OUT's name + "-relaxed" (relaxed SIMD's fused multiply-add in the GEMM, which
site/wasm/kernels.js loads where the browser validates it: about twice the products' speed
on a CPU with FMA).

The module is instantiated with Pyodide's own memory (engine/backend/wasm.py), so the
build checks that it cannot write anywhere it was not told to: its only import is
`env.memory`, it has no data segment and uses no shadow stack, and it exports the kernels the backend calls.
"""
import pathlib
import shutil
import subprocess
import sys

from .relaxed import leb, standard_madd

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = tuple(ROOT / "site" / "wasm" / f for f in ("kernels.c", "images.c", "seq.c", "attn.c"))  # + simd.h
OUTPUT = ROOT / "site" / "wasm" / "kernels.wasm"
EXPORTS = ("gemm", "gemm_scratch_bytes", "adam", "im2col", "col2im", "max_pool", "max_pool_backward",
           "gelu", "softmax", "softmax_backward", "layer_norm", "layer_norm_backward", "attention",
           "attention_backward", "add", "mul", "sum_squares", "scale")
# -disable-lsr: loop strength reduction rewrites `a[1]`, `b + 4` in a loop into i32 adds that wasm
# cannot fold into a load's offset, so V8 spends an address instruction per load; without it the
# GEMM's inner loop loads at constant offsets (`make bench-kernels`: products ~5 % faster in Chromium)
FLAGS = ["--target=wasm32", "-O3", "-mllvm", "-disable-lsr", "-msimd128", "-nostdlib",
         "-fno-builtin", "-ffreestanding", "-Wall", "-Werror", "-Wl,--no-entry",
         "-Wl,--import-memory", "-Wl,--strip-all", "-Wl,--gc-sections"]
RELAXED_FLAGS = ["-mrelaxed-simd", "-DDESCENT_RELAXED"]  # simd.h's MADD: one fused instruction
INSTALL_HINT = "install the toolchain with `apt-get install clang-14 lld-14`"


class BuildError(RuntimeError):
    """The kernels could not be built or the result is unsafe to share Pyodide's memory with."""


def find_clang():
    """A clang that targets wasm32 and finds wasm-ld (Debian: clang-14 + lld-14)."""
    for name in ("clang-14", "clang"):
        exe = shutil.which(name)
        if exe:
            return exe
    raise BuildError(f"no clang found to compile {SOURCES[0].name}: {INSTALL_HINT}")


def relaxed_path(out):
    """Where the relaxed-SIMD build of `out` goes: kernels.wasm -> kernels-relaxed.wasm."""
    out = pathlib.Path(out)
    return out.with_name(f"{out.stem}-relaxed{out.suffix}")


def build(out_path=OUTPUT, source=SOURCES, clang=None, relaxed=True):
    """Compile `source` (a C file or several) into `out_path` (created folders included) and,
    when `relaxed`, the relaxed-SIMD build beside it (relaxed_path); returns the output path."""
    out = pathlib.Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = [str(source)] if isinstance(source, (str, pathlib.Path)) else [str(f) for f in source]
    clang = clang or find_clang()
    compile_c(clang, source, out, FLAGS)
    check(out.read_bytes())
    check_no_stack(clang, source, out.with_suffix(".probe.wasm"))
    if relaxed:
        fast = relaxed_path(out)
        compile_c(clang, source, fast, FLAGS + RELAXED_FLAGS)
        data, count = standard_madd(fast.read_bytes())
        if not count:
            raise BuildError(f"{fast.name}: no fused multiply-add was compiled (simd.h's MADD)")
        check(data)
        fast.write_bytes(data)
    return out


def compile_c(clang, source, out, flags):
    """Run clang on the C files `source` into `out` with `flags`; BuildError says why not."""
    cmd = [clang, *flags, "-o", str(out), *source]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise BuildError(f"could not run {cmd[0]}: {e}; {INSTALL_HINT}") from None
    if r.returncode:
        msg = (r.stderr or r.stdout).strip()
        if "unable to execute command" in msg or "unknown target" in msg:
            msg += f"\n(no wasm32 target or linker: {INSTALL_HINT})"
        raise BuildError(f"{' '.join(cmd)} failed:\n{msg}")


def check_no_stack(clang, source, probe):
    """wasm-ld always defines a __stack_pointer global in a module that imports its memory,
    used or not. Linked as a position-independent side module instead, the same code imports
    __stack_pointer only if it touches the stack: that is the check."""
    cmd = [clang, *FLAGS, "-fPIC", "-Wl,--experimental-pic", "-Wl,-shared", "-o", str(probe),
           *source]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise BuildError(f"{' '.join(cmd)} failed:\n{(r.stderr or r.stdout).strip()}")
        names = [name for _, name, _ in imports(probe.read_bytes())]
    finally:
        probe.unlink(missing_ok=True)
    if "__stack_pointer" in names:
        raise BuildError("the kernels use a shadow stack, which would live in Pyodide's heap "
                         "(no local arrays or address-taken locals in site/wasm/*.c)")


def _name(data, i):
    n, i = leb(data, i)
    return data[i:i + n].decode(), i + n


def sections(data):
    """{section id: payload bytes} of a wasm binary (custom sections left out)."""
    if data[:8] != b"\0asm\1\0\0\0":
        raise BuildError("not a WebAssembly (version 1) binary")
    out, i = {}, 8
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        if sid:
            out[sid] = data[i:i + size]
        i += size
    return out


def _limits(body, i):
    flags, i = leb(body, i)
    _, i = leb(body, i)
    if flags & 1:
        _, i = leb(body, i)
    return i


def imports(data):
    """[(module, name, kind)] with kind 0 func, 1 table, 2 memory, 3 global."""
    body = sections(data).get(2, b"")
    if not body:
        return []
    count, i = leb(body, 0)
    res = []
    for _ in range(count):
        mod, i = _name(body, i)
        name, i = _name(body, i)
        kind = body[i]
        i += 1
        if kind == 0:
            _, i = leb(body, i)
        elif kind == 1:
            i = _limits(body, i + 1)
        elif kind == 2:
            i = _limits(body, i)
        else:
            i += 2
        res.append((mod, name, kind))
    return res


def exports(data):
    body = sections(data).get(7, b"")
    if not body:
        return []
    count, i = leb(body, 0)
    names = []
    for _ in range(count):
        name, i = _name(body, i)
        _, i = leb(body, i + 1)  # kind byte, then index
        names.append(name)
    return names


def check(data):
    """Raise BuildError unless the module owns no memory: only `env.memory` imported, no data
    segment (it would be copied over Pyodide's heap at instantiation), and the kernels
    exported. (The stack is checked by check_no_stack.)"""
    sec = sections(data)
    imp = imports(data)
    if imp != [("env", "memory", 2)]:
        raise BuildError(f"kernels.wasm must import only env.memory, it imports {imp} "
                         f"(a libc call crept in? build with -fno-builtin)")
    if 11 in sec:
        raise BuildError("kernels.wasm has a data segment: it would overwrite Pyodide's heap "
                         "(no constant tables or strings in site/wasm/*.c)")
    missing = [e for e in EXPORTS if e not in exports(data)]
    if missing:
        raise BuildError(f"kernels.wasm does not export {missing}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        out = build(argv[0] if argv else OUTPUT)
    except BuildError as e:
        print(f"kernels: {e}", file=sys.stderr)
        return 1
    print(f"built {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
