"""The build's bytecode step (Pyodide's CPython under node, sitebuild/pycompile.mjs) with paths
that run through symbolic links, and what a failing compile says. No browser: the full boot
from a symlinked distribution is in tests/test_pages_trust_embeds.py."""
import shutil
import zipfile
from pathlib import Path

import pytest

from playground import sitebuild as sb
from playground.sitebuild.wheels import compile_wheels

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "node_modules" / "pyodide"
pytestmark = pytest.mark.skipif(not (CORE / "pyodide.mjs").is_file() or not shutil.which("node"),
                                reason="needs node and the npm pyodide core (npm ci)")


def _wheel(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def test_compile_follows_symlinked_source_and_destination_folders(tmp_path):
    real_in, real_out = tmp_path / "real-in", tmp_path / "real-out"
    real_in.mkdir()
    real_out.mkdir()
    _wheel(real_in / "tiny-1.0-py3-none-any.whl", {"tiny/__init__.py": "X = 1\n", "tiny-1.0.dist-info/RECORD": ""})
    (tmp_path / "in").symlink_to(real_in)  # absolute targets, like ../shared -> /somewhere
    (tmp_path / "out").symlink_to(real_out)
    src, dst = tmp_path / "in" / "tiny-1.0-py3-none-any.whl", tmp_path / "out" / "tiny-1.0-py3-none-any.whl"
    compile_wheels([(src, dst, "sourceless")], tmp_path / "cache")
    with zipfile.ZipFile(real_out / src.name) as z:
        assert "tiny/__init__.pyc" in z.namelist() and "tiny/__init__.py" not in z.namelist()


def test_a_failing_compile_reports_the_python_error_and_what_to_do(tmp_path):
    bad = tmp_path / "broken-1.0-py3-none-any.whl"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(sb.BuildError) as e:
        compile_wheels([(bad, tmp_path / "out.whl", "sourceless")], tmp_path / "cache")
    msg = str(e.value)
    assert "broken-1.0-py3-none-any.whl" in msg
    assert "zipfile.BadZipFile: File is not a zip file" in msg  # the traceback's last line
    assert "what to do:" in msg.lower()
    # no minified Pyodide JavaScript, no node stack
    assert "pyodide.asm.js" not in msg and "function(" not in msg and "HEAP" not in msg
    assert len(msg) < 1500, msg


def test_a_missing_file_names_the_host_path_not_pyodides(tmp_path):
    with pytest.raises(sb.BuildError) as e:
        compile_wheels([(tmp_path / "gone-1.0-py3-none-any.whl", tmp_path / "out.whl", "sourceless")],
                       tmp_path / "cache")
    msg = str(e.value)
    assert str(tmp_path / "gone-1.0-py3-none-any.whl") in msg and "what to do:" in msg.lower(), msg
    assert "/host/" not in msg and "HEAP" not in msg


def test_a_dangling_dist_link_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "shared").symlink_to(tmp_path / "gone")
    with pytest.raises(sb.BuildError, match=r"not a directory \(a link that points nowhere\?\): point it at"):
        sb.check_dist(tmp_path / "shared", [])
