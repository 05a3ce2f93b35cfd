"""make install puts the agent, libotus (shared with SONAME links, static), otus.h and
otus.pc under DESTDIR/PREFIX, and a program builds against the installed library with
pkg-config alone and runs."""

import os
import subprocess

from harness import ROOT


def test_install_and_build_against_it(tmp_path):
    dest = tmp_path / "root"
    build = os.environ.get("OTUS_BUILD", "build")
    subprocess.run(["make", "--no-print-directory", "-s", f"BUILD={build}", "install",
                    f"DESTDIR={dest}", "PREFIX=/opt/otus"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    prefix = dest / "opt" / "otus"
    assert (prefix / "bin" / "otus-agent").is_file()
    assert os.readlink(prefix / "lib" / "libotus.so") == "libotus.so.0"
    assert os.readlink(prefix / "lib" / "libotus.so.0") == "libotus.so.0.1.0"
    assert (prefix / "lib" / "libotus.a").is_file()
    assert (prefix / "include" / "otus.h").is_file()
    pc = (prefix / "lib" / "pkgconfig" / "otus.pc").read_text()
    assert "prefix=/opt/otus" in pc
    src = tmp_path / "use.c"
    src.write_text('#include <otus.h>\n#include <stdio.h>\n'
                   'int main(void) { printf("%s %s\\n", otus_version(), otus_strerror(OTUS_ERR_FULL)); return 0; }\n')
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=str(dest))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "otus"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    exe = tmp_path / "use"
    # A sanitizer build's library needs the program built with the same sanitizers.
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(prefix / "lib" / "libotus.so")],
                               check=True, capture_output=True, text=True).stdout
    san = []
    if "__asan_" in undefined:
        san = ["-fsanitize=address,undefined"]
    elif "__tsan_" in undefined:
        san = ["-fsanitize=thread"]
    subprocess.run(["cc", *san, str(src), "-o", str(exe), *flags], check=True, capture_output=True)
    out = subprocess.run([str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib")),
                         check=True, capture_output=True, text=True).stdout
    assert out == "0.1.0 queue or buffer full\n"
    r = subprocess.run([str(prefix / "bin" / "otus-agent"), "--version"], capture_output=True,
                       text=True)
    assert r.stdout.strip() == "otus-agent 0.1.0"
