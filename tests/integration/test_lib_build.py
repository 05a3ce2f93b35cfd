"""libotus as a dependency: otus.h compiles as C++ (and as strict C11), and a C++
program links against libotus.so and runs."""

import os
import shutil
import subprocess

import pytest

from harness import BUILD, ROOT

CXX_PROGRAM = r"""
#include <otus.h>
#include <cstring>

int main()
{
    otus_sdk_config cfg;
    otus_sdk_config_init(&cfg);
    cfg.flags = OTUS_SDK_IGNORE_ENV | OTUS_SDK_NO_TRACE_EXPORT | OTUS_SDK_NO_METRIC_EXPORT |
                OTUS_SDK_NO_LOG_EXPORT;
    cfg.log_output = OTUS_LOG_OUTPUT_NONE;
    if (otus_init(&cfg) != OTUS_OK)
        return 1;
    otus_attr attrs[2] = {otus_attr_str("k", "v"), otus_attr_int("n", 1)};
    otus_metric *c = otus_counter_create("cxx.count", "1", nullptr);
    otus_metric_add(c, 1, attrs, 2);
    otus_span span;
    otus_span_start(&span, "cxx", OTUS_SPAN_INTERNAL, nullptr);
    otus_log_write(OTUS_LEVEL_INFO, "from C++", attrs, 2);
    char tp[OTUS_TRACEPARENT_LEN + 1];
    otus_traceparent_format(&span.ctx, tp);
    otus_span_end(&span);
    int ok = std::strlen(tp) == OTUS_TRACEPARENT_LEN && otus_log_enabled(OTUS_LEVEL_WARN);
    return otus_shutdown(1000) == OTUS_OK && ok ? 0 : 2;
}
"""


def test_cxx_program_links_and_runs(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++")
    if not cxx:
        pytest.skip("no C++ compiler")
    src = tmp_path / "prog.cc"
    src.write_text(CXX_PROGRAM)
    exe = tmp_path / "prog"
    lib = os.path.join(BUILD, "lib")
    cmd = [cxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic",
           "-I" + os.path.join(ROOT, "instrument-lib", "include"), str(src), "-o", str(exe),
           "-L" + lib, "-lotus", "-Wl,-rpath," + lib]
    if os.path.basename(BUILD) == "asan":
        cmd.append("-fsanitize=address,undefined")  # the runtime the sanitized library needs
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr


def test_header_is_strict_c11(tmp_path):
    src = tmp_path / "h.c"
    src.write_text("#include <otus.h>\nint main(void) { return otus_log_enabled(OTUS_LEVEL_INFO) ? 0 : 0; }\n")
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "-fsyntax-only", "-I" + os.path.join(ROOT, "instrument-lib", "include"),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
