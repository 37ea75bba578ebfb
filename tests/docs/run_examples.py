#!/usr/bin/env python3
"""Builds and runs the examples of README.md and docs/, as a reader would.

1. installs the build into a fresh prefix (cmake --install);
2. each cmake block is a project: it is configured against that prefix with the cpp
   blocks it names as its files, built, and the programs marked "run" are run;
3. the cpp fragments are compiled inside functions (fragment_prelude.hpp says which
   names they may use), in a project linking every gasched target;
4. each "run" shell block runs with bash -e in a scratch folder holding the programs of
   step 2, with the build's programs on PATH, bounded in time; every process it started
   is killed afterwards. "output-of" text blocks are compared with what the program prints.
Usage: run_examples.py --root SRC --build-dir BUILD --work-dir DIR --path DIR...
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from doc_blocks import all_blocks
from check_docs import sources_of

HERE = Path(__file__).resolve().parent


def run(cmd, timeout=900, **kw):
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kw)
    if done.returncode != 0:
        raise Failure(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}")
    return done.stdout


class Failure(Exception):
    pass


def configure_and_build(source, build, prefix):
    run(["cmake", "-S", source, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}",
         "-DCMAKE_BUILD_TYPE=Release"])
    run(["cmake", "--build", build, "-j2"])


def build_projects(found, prefix, work):
    """Builds every cmake block's project; runs its programs; returns the programs."""
    programs, failures = [], []
    files = {(b.page, b.check["file"][0]): b for b in found if "file" in b.check}
    for n, b in enumerate(x for x in found if x.lang == "cmake"):
        project = work / f"project-{n}"
        project.mkdir(parents=True)
        (project / "CMakeLists.txt").write_text(b.text)
        names = sources_of(b.text)
        for name in names:
            (project / name).write_text(files[(b.page, name)].text)
        try:
            configure_and_build(project, project / "build", prefix)
        except Failure as e:
            failures.append(f"{b.where()}: the project does not build against the "
                            f"installed prefix: {e}")
            continue
        for exe in re.findall(r"add_executable\((\S+)", b.text):
            programs.append(project / "build" / exe)
        for name in sorted(names):
            failures += run_program(files[(b.page, name)], project / "build", b.text, name)
    return programs, failures


def run_program(block, build, cmake_text, name):
    if "run" not in block.check:
        return []
    exe = re.search(r"add_executable\((\S+)\s+" + re.escape(name), cmake_text).group(1)
    try:
        out = run([build / exe] + block.check["run"], timeout=120, cwd=build)
    except (Failure, subprocess.TimeoutExpired) as e:
        return [f"{block.where()}: {name} failed: {e}"]
    return expect(block, out)


def expect(block, out):
    want = (block.check.get("expect") or [None])[0]
    if want is not None and want not in out:
        return [f"{block.where()}: the output lacks {want!r}:\n{out}"]
    return []


def build_fragments(found, prefix, work):
    fragments = [b for b in found if "fragment" in b.check]
    if not fragments:
        return []
    project = work / "fragments"
    project.mkdir(parents=True)
    source = ['#include "fragment_prelude.hpp"\n']
    for n, b in enumerate(fragments):
        source += [f"void fragment_{n}(caf::actor_system& sys, caf::scoped_actor& self,\n"
                   "    gasched::scheduler_actor sched, gasched::registry& reg,\n"
                   "    const gasched::task_result& r) {\n"
                   "  use(sys, self, sched, reg, r);\n",
                   f'#line {b.line + 1} "{b.page}"\n', b.text, "}\n"]
    (project / "fragments.cpp").write_text("".join(source))
    shutil.copy(HERE / "fragment_prelude.hpp", project)
    targets = "gasched::gasched gasched::node_main gasched::http"
    (project / "CMakeLists.txt").write_text((
        "cmake_minimum_required(VERSION 3.25)\nproject(fragments CXX)\n"
        "set(CMAKE_CXX_STANDARD 17)\nfind_package(gasched CONFIG REQUIRED)\n"
        "add_library(fragments OBJECT fragments.cpp)\n"
        f"target_link_libraries(fragments PRIVATE {targets})\n"))
    try:
        configure_and_build(project, project / "build", prefix)
    except Failure as e:
        return [f"C++ fragments do not compile: {e}"]
    return []


def run_shell(block, work, programs, env):
    scratch = work / f"sh-{block.page.stem}-{block.line}"
    scratch.mkdir(parents=True)
    for p in programs:
        shutil.copy(p, scratch)
    (scratch / "example.sh").write_text(block.text)
    # Output to a file, not a pipe: what the block leaves running in the background
    # would hold a pipe open. Its whole process group is killed once bash ends.
    with open(scratch / "output.txt", "w") as log:
        proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "example.sh"], cwd=scratch,
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            rc = "killed after 120 s"
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    out = (scratch / "output.txt").read_text(errors="replace")
    if rc != 0:
        return [f"{block.where()}: exited {rc}:\n{out}"]
    return expect(block, out)


VARYING = re.compile(r"^(node-\d|  at |\d+ tasks on \d+ nodes in)")


def normal(line):
    """A line whose numbers, spacing and temporary folders may differ between runs."""
    line = re.sub(r"/tmp/\S+", "PATH", re.sub(r"[\d.,]+", "N", line.strip()))
    return re.sub(r"\s+", " ", line)


def check_output(block, work, env):
    """The block's lines in the program's output, in order; '...' skips lines."""
    scratch = work / f"output-{block.page.stem}-{block.line}"
    scratch.mkdir(parents=True)
    try:
        out = run(block.check["output-of"], timeout=120, cwd=scratch, env=env)
    except (Failure, subprocess.TimeoutExpired) as e:
        return [f"{block.where()}: {e}"]
    real, at = [x.rstrip() for x in out.splitlines()], 0
    for line in block.text.splitlines():
        if line == "...":
            continue
        same = (lambda x: normal(x) == normal(line)) if VARYING.match(line) else \
            (lambda x: x == line.rstrip())
        while at < len(real) and not same(real[at]):
            at += 1
        if at == len(real):
            return [f"{block.where()}: {block.check['output-of'][0]} does not print "
                    f"{line!r} here:\n{out}"]
        at += 1
    return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--path", action="append", default=[])
    args = parser.parse_args()
    shutil.rmtree(args.work_dir, ignore_errors=True)
    args.work_dir.mkdir(parents=True)
    prefix = args.work_dir / "prefix"
    run(["cmake", "--install", args.build_dir, "--prefix", prefix])
    found = all_blocks(args.root.resolve())
    programs, failures = build_projects(found, prefix, args.work_dir)
    failures += build_fragments(found, prefix, args.work_dir)
    env = dict(os.environ, PATH=os.pathsep.join(args.path + [os.environ["PATH"]]))
    for b in found:
        if b.lang == "sh" and "run" in b.check:
            failures += run_shell(b, args.work_dir, programs, env)
        elif "output-of" in b.check:
            failures += check_output(b, args.work_dir, env)
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
