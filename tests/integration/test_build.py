"""Properties of the build outputs: libotus exports only the otus_ API and carries a
SONAME; the pkg-config file and the static archive exist."""

import os
import subprocess

from harness import BUILD


def test_libotus_exports_only_otus_symbols():
    so = os.path.join(BUILD, "lib", "libotus.so")
    out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True,
                         check=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert names, "libotus.so exports nothing"
    stray = [n for n in names if not n.startswith("otus_")]
    assert stray == []
    assert "otus_strerror" in names and "otus_version" in names


def test_libotus_soname():
    so = os.path.join(BUILD, "lib", "libotus.so")
    out = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
    assert "Library soname: [libotus.so.0]" in out
    assert os.path.islink(so) and os.path.islink(so + ".0")


def test_static_archive_and_pkgconfig():
    assert os.path.isfile(os.path.join(BUILD, "lib", "libotus.a"))
    pc = open(os.path.join(BUILD, "lib", "pkgconfig", "otus.pc")).read()
    assert "Libs: -L${libdir} -lotus" in pc
    assert "Version: 0.1.0" in pc


def test_configuration_reference_is_current(tmp_path):
    """docs/configuration.md is what the agent's configuration tables say."""
    from harness import ROOT
    out = tmp_path / "configuration.md"
    env = dict(os.environ, BUILD=BUILD)
    subprocess.run([os.path.join(ROOT, "scripts", "gen-config-doc.sh"), str(out)], check=True,
                   cwd=ROOT, env=env)
    current = open(os.path.join(ROOT, "docs", "configuration.md")).read()
    assert out.read_text() == current, "run scripts/gen-config-doc.sh to update docs/configuration.md"
