#!/usr/bin/env python3
"""The docs' checkers catch what they promise to: each fault below, made in a copy of the
pages, must be reported by check_docs.py, and results_table.py --check must notice a
changed figure. Usage: self_test.py ROOT"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (what breaks, file, text appended or (old, new) replaced, check, words of the report)
FAULTS = [
    ("a block without a check", "docs/cluster.md", "\n```sh\nrm -rf /\n```\n",
     "blocks", "nothing would check it"),
    ("a language no check knows", "docs/cluster.md", "\n<!-- check: run -->\n```python\nx\n```\n",
     "blocks", "no check knows it"),
    ("a not-run block vouching for anything", "docs/operations.md",
     "\n<!-- check: not-run system -->\n```sh\ncurl http://example.com\n```\n",
     "blocks", "cannot vouch for"),
    ("a snippet naming a file no block is", "docs/cluster.md",
     ("add_executable(my-node my_node.cpp)", "add_executable(my-node my_node.cpp x.cpp)"),
     "blocks", "which no cpp block is"),
    ("a line over 100 columns", "docs/library.md", "\n" + "x" * 101 + "\n",
     "blocks", "more than 100"),
    ("a link to nothing", "docs/library.md", "\n[gone](nowhere.md)\n", "blocks", "does not exist"),
    ("a file outside the repository", "docs/failures.md", "\nSee DESIGN.md.\n",
     "blocks", "DESIGN.md"),
    ("a package the list lacks", "packaging/build-deps.txt", ("\nfile ", "\n#file "),
     "packages", "installs file"),
    ("a Quick start command with recommends", "README.md",
     ("apt-get install -y --no-install-recommends chromium", "apt-get install -y chromium"),
     "packages", "without --no-install-recommends"),
]


def copy_of(root, into):
    for name in ["README.md", "CHANGELOG.md", "docs", "packaging", ".ci", "benchmarks",
                 "libgasched/include"]:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("*.cpp"))
        else:
            shutil.copy(source, into / name)


def report(copy, what):
    done = subprocess.run([sys.executable, str(HERE / "check_docs.py"), str(copy), what],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return done.returncode, done.stdout


def shell_faults():
    """run_examples.py fails a shell block that fails, or whose output lacks its text."""
    from doc_blocks import Block
    from run_examples import run_shell
    failures = []
    cases = [("false\n", {"run": []}, "exited 1"),
             ("echo hello\n", {"run": [], "expect": ["goodbye"]}, "lacks 'goodbye'"),
             ("sleep 300 &\necho ok\n", {"run": []}, None)]
    with tempfile.TemporaryDirectory() as tmp:
        for n, (text, check, words) in enumerate(cases):
            block = Block(Path("docs/x.md"), n + 1, "sh", text, "", check)
            out = run_shell(block, Path(tmp), [], dict(os.environ))
            if (words is None and out) or (words and not any(words in x for x in out)):
                failures.append(f"run_examples.py on {text!r}: {out}")
    return failures


def main():
    root, failures = Path(sys.argv[1]).resolve(), []
    with tempfile.TemporaryDirectory() as tmp:
        copy_of(root, Path(tmp))
        for what in ["blocks", "packages"]:
            rc, out = report(Path(tmp), what)
            if rc != 0:
                return print(f"the unchanged copy fails check_docs.py {what}:\n{out}") or 1
    for name, file, change, what, words in FAULTS:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp)
            copy_of(root, copy)
            page = copy / file
            text = page.read_text(encoding="utf-8")
            if isinstance(change, tuple):
                if change[0] not in text:
                    failures.append(f"{name}: {change[0]!r} is not in {file} any more")
                    continue
                text = text.replace(change[0], change[1], 1)
            else:
                text += change
            page.write_text(text, encoding="utf-8")
            rc, out = report(copy, what)
            if rc == 0 or words not in out:
                failures.append(f"{name}: check_docs.py {what} said (exit {rc}): {out!r}")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        copy_of(root, copy)
        page = copy / "docs/benchmarks.md"
        page.write_text(page.read_text().replace("</td>", " </td>", 1))
        done = subprocess.run([sys.executable, str(copy / "benchmarks/results_table.py"),
                               "--check"], capture_output=True)
        if done.returncode == 0:
            failures.append("results_table.py --check passed a page that differs")
    failures += shell_faults()
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
