#!/usr/bin/env python3
"""Checks of README.md and docs/ that need no build.

  check_docs.py ROOT packages   the Quick start's commands, docs/building.md and .ci/run
                                name exactly the packages of packaging/build-deps.txt
  check_docs.py ROOT blocks     every fenced block says how it is checked, and what can
                                be checked without a build is (shell examples that cannot
                                run in a test, JSON); lines fit 100 columns; links resolve;
                                nothing points outside the repository
Exit status 1 with one line per problem, naming the file and line.
"""
import json
import re
import sys
from pathlib import Path

from doc_blocks import all_blocks, blocks, commands, pages

WIDTH = 100
# Words that point outside the repository, or into history that CHANGELOG.md keeps.
OUTSIDE = ["DESIGN.md", "notes/", "/work/", "the issue", "Changed in this version",
           "Migrating from"]


def package_list(root):
    """{stage: {package}} from packaging/build-deps.txt."""
    stages = {}
    for line in (root / "packaging/build-deps.txt").read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            stages.setdefault(words[1], set()).add(words[0])
    return stages


def installed_by(command):
    """The packages an `apt-get install` in `command` names, and whether it is without
    recommends; None when it installs nothing."""
    for part in command.split("&&"):
        words = part.split()
        if words[:2] == ["apt-get", "install"]:
            return ({w for w in words[2:] if not w.startswith("-")},
                    "--no-install-recommends" in words)
    return None


def check_packages(root):
    problems, stages = [], package_list(root)
    quick = [b for b in blocks(root, Path("README.md")) if "quick-start" in b.check]
    if len(quick) != 2:
        return [f"README.md: {len(quick)} quick-start blocks, not 2"]
    for block, stage in zip(quick, ["build", "test"]):
        lines = commands(block.text)
        if len(lines) != 1:
            problems.append(f"{block.where()}: {len(lines)} commands; the Quick start runs "
                            "each line on its own, so keep each command on one line")
        found = installed_by(lines[0]) if lines else None
        if not found:
            problems.append(f"{block.where()}: no apt-get install")
            continue
        names, no_recommends = found
        if not no_recommends:
            problems.append(f"{block.where()}: apt-get install without --no-install-recommends")
        want = stages.get(stage, set())
        for name in sorted(want - names):
            problems.append(f"{block.where()}: lacks {name} ({stage} in build-deps.txt)")
        for name in sorted(names - want):
            problems.append(f"{block.where()}: installs {name}, which build-deps.txt does "
                            f"not list as {stage}")
    table = {}
    for line in (root / "docs/building.md").read_text().splitlines():
        row = re.match(r"^\| `([^`]+)` \| (build|test) \|", line)
        if row:
            table.setdefault(row.group(2), set()).add(row.group(1))
    for stage in sorted(set(table) | set(stages)):
        listed, shown = stages.get(stage, set()), table.get(stage, set())
        problems += [f"docs/building.md: the table lacks {n} ({stage})"
                     for n in sorted(listed - shown)]
        problems += [f"docs/building.md: the table shows {n} as {stage}, which "
                     "build-deps.txt does not" for n in sorted(shown - listed)]
    ci = (root / ".ci/run").read_text()
    if "packaging/build-deps.txt" not in ci or "--no-install-recommends" not in ci:
        problems.append(".ci/run does not install packaging/build-deps.txt without recommends")
    return problems


def results_command(root):
    return json.loads((root / "benchmarks/results.json").read_text())["command"]


# How a shell block that cannot run in a test is checked instead: each of its commands
# must be one of these (a machine-changing command, or one the Quick start runs).
NOT_RUN = {
    "system": lambda root, c: c.split()[0] in ("apt-get", "editor", "systemctl", "journalctl")
    and ("gasched-node" not in c or (root / "packaging/gasched-node.service").exists()),
    "benchmark": lambda root, c: c.split("#")[0].strip() in (
        results_command(root), "python3 benchmarks/results_table.py", "cmake --build build -j2"),
    "source-tree": lambda root, c: c.split()[0] in ("cmake", "ctest")
    and " build" in c,
    # A soak runs for minutes to hours: its command, with options the program has
    # (checked where the source is: self_test.py's copies leave out the .cpp files).
    "soak": lambda root, c: c.split()[0] == "build/benchmarks/gasched-soak"
    and (not (root / "benchmarks/soak/driver.cpp").exists()
         or all(f'"{w.split("=")[0]}"' in (root / "benchmarks/soak/driver.cpp").read_text()
                for w in c.split()[1:] if w.startswith("--"))),
}


def check_block(root, b, built_files):
    if b.error:
        return [f"{b.where()}: {b.error}"]
    kinds = {"cpp": ("file", "fragment"), "cmake": ("cmake",), "json": ("json-lines",),
             "sh": ("run", "not-run", "quick-start"), "text": ("output-of",)}
    if b.lang not in kinds:
        return [f"{b.where()}: a ```{b.lang} block: no check knows it (cpp, cmake, sh, json, text)"]
    kind = next((k for k in kinds[b.lang] if k in b.check), None)
    if b.lang == "text" and not b.check:
        return []  # not code
    if kind is None:
        return [f"{b.where()}: a ```{b.lang} block without <!-- check: "
                f"{' | '.join(kinds[b.lang])} -->: nothing would check it"]
    if kind == "quick-start" and (b.page != Path("README.md") or "quick" not in b.heading.lower()):
        return [f"{b.where()}: quick-start outside README.md's Quick start"]
    if kind == "not-run":
        reason = (b.check["not-run"] or [""])[0]
        if reason not in NOT_RUN:
            return [f"{b.where()}: not-run needs a reason of {sorted(NOT_RUN)}"]
        return [f"{b.where()}: not-run {reason} cannot vouch for: {c}"
                for c in commands(b.text) if not NOT_RUN[reason](root, c)]
    if kind == "file" and b.check["file"][0] not in built_files.get(b.page, set()):
        return [f"{b.where()}: no cmake block of {b.page} builds {b.check['file'][0]}"]
    if kind == "json-lines":
        problems = []
        for n, line in enumerate(b.text.splitlines(), b.line + 1):
            try:
                json.loads(line)
            except ValueError as e:
                problems.append(f"{b.page}:{n}: not JSON: {e}")
        return problems
    return []


def sources_of(cmake_text):
    """The source files that add_executable calls of a CMake snippet name."""
    names = set()
    for args in re.findall(r"add_executable\(([^)]*)\)", cmake_text):
        names.update(w for w in args.split()[1:] if w.endswith(".cpp"))
    return names


def check_style(root, all_found):
    problems = []
    quick_lines = {(b.page, b.line + i + 1) for b in all_found if "quick-start" in b.check
                   for i in range(len(b.text.splitlines()))}
    for page in pages(root) + [Path("CHANGELOG.md")]:
        text = (root / page).read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            if len(line) > WIDTH and (page, n) not in quick_lines:
                problems.append(f"{page}:{n}: {len(line)} columns, more than {WIDTH}")
            for word in OUTSIDE:
                if word in line and page != Path("CHANGELOG.md"):
                    problems.append(f"{page}:{n}: '{word}': docs say what is, in the repository")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (root / page).parent / path if path else root / page
            if not file.exists():
                problems.append(f"{page}: a link to {target}, which does not exist")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                problems.append(f"{page}: a link to {target}: no such heading")
    return problems


def anchors(file):
    """GitHub's ids of a Markdown file's headings."""
    ids = set()
    for line in file.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            ids.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return ids


def check_blocks(root):
    found = all_blocks(root)
    built = {}
    for b in found:
        if b.lang == "cmake":
            built.setdefault(b.page, set()).update(sources_of(b.text))
    problems = [p for b in found for p in check_block(root, b, built)]
    for page, names in built.items():
        files = {b.check["file"][0] for b in found if b.page == page and "file" in b.check}
        problems += [f"{page}: a cmake block builds {n}, which no cpp block is"
                     for n in sorted(names - files)]
    return problems + check_style(root, found)


def main():
    root, what = Path(sys.argv[1]).resolve(), sys.argv[2]
    problems = {"packages": check_packages, "blocks": check_blocks}[what](root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
