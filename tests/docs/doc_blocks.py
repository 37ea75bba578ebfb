"""The fenced blocks of README.md and docs/*.md, with how each is to be checked.

A block says how it is checked in an HTML comment on the line before its fence (GitHub
does not show it):

  <!-- check: quick-start -->                a Quick start command (docs.package_list)
  <!-- check: run, expect "TEXT" -->         sh: run in a scratch folder; TEXT in its output
  <!-- check: not-run REASON -->             sh that cannot run in a test; REASON says how
                                             it is checked instead (see check_docs.py)
  <!-- check: output-of PROGRAM -->          text: what PROGRAM prints ("..." skips lines)
  <!-- check: file NAME, run ARGS, expect "TEXT" -->
                                             cpp: a whole program, the file NAME that a
                                             cmake block of the same page builds; run with
                                             ARGS if "run" is given
  <!-- check: fragment -->                   cpp: statements, compiled inside a function
  <!-- check: cmake -->                      cmake: a project, built against an installed
                                             prefix with the files it names
  <!-- check: json-lines -->                 json: each line parses

A text block without a comment is not code (a folder layout, say). Anything else is an
error: a block nobody knows how to check fails the test.
"""
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(\s*)```(.*)$")
CHECK = re.compile(r"^<!--\s*check:\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path            # the Markdown file, relative to the repository
    line: int             # of the opening fence, from 1
    lang: str             # the fence's info string: cpp, sh, cmake, text, json
    text: str             # the lines between the fences
    heading: str          # the heading the block is under
    check: dict = field(default_factory=dict)  # item -> list of words; {} without a comment
    error: str = ""       # what is wrong with the fence or the comment

    def where(self):
        return f"{self.page}:{self.line}"


def parse_check(text):
    """'file a.cpp, run --x, expect "y, z"' -> {'file': ['a.cpp'], 'run': ['--x'], ...}."""
    items = {}
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', text):
        words = shlex.split(part)
        if words:
            items[words[0]] = words[1:]
    return items


def blocks(root, page):
    """Every fenced block of `page` (a path relative to `root`)."""
    found, lines = [], (root / page).read_text(encoding="utf-8").splitlines()
    heading, start, info, check, indent = "", None, "", None, ""
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if start is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            if fence:
                start, info, indent = number, fence.group(2).strip(), fence.group(1)
                before = next((x for x in reversed(lines[:number - 1]) if x.strip()), "")
                match = CHECK.match(before)
                check = parse_check(match.group(1)) if match else {}
        elif fence and fence.group(2).strip() == "":
            block = Block(page, start, info, "\n".join(lines[start:number - 1]) + "\n",
                          heading, check)
            if indent:
                block.error = "an indented fence: write blocks at the start of a line"
            found.append(block)
            start = None
    if start is not None:
        found.append(Block(page, start, info, "", heading, {}, "a fence that never closes"))
    return found


def pages(root):
    """The pages whose blocks are checked, relative to `root`."""
    return [Path("README.md")] + sorted(p.relative_to(root) for p in (root / "docs").glob("*.md"))


def all_blocks(root):
    return [b for page in pages(root) for b in blocks(root, page)]


def commands(text):
    """The command lines of a shell block: no blank lines, no comment lines."""
    return [x for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
