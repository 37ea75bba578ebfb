#!/usr/bin/env python3
"""The results table of docs/benchmarks.md, made from benchmarks/results.json.

gasched-bench --json writes every figure with its runs; this script writes them as one
Markdown table between the markers in docs/benchmarks.md, each figure with its median,
its spread (lowest and highest run) and the command that measures it, so the page
cannot drift from the last run. Usage, from the repository's root:

  python3 benchmarks/results_table.py           rewrite the table in docs/benchmarks.md
  python3 benchmarks/results_table.py --check   exit 1 if the page is not up to date
"""
import argparse
import html
import json
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- results table: made by benchmarks/results_table.py from results.json -->"
END = "<!-- end of results table -->"


def number(x, unit):
    """A figure as the page shows it: digits that mean something, thousands separated."""
    if unit == "%":
        return f"{x:.1f}"
    if unit == "us":
        unit = "µs"
    if abs(x) >= 100 or unit in ("tasks/s", "ns", "ns per task", ""):
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def with_unit(text, unit):
    if not unit:
        return text
    unit = "µs" if unit == "us" else unit
    return f"{text} %" if unit == "%" else f"{text} {unit}"


def spread(f):
    if len(f.get("runs", [])) < 2:
        return "one run"
    low, high = number(f["min"], f["unit"]), number(f["max"], f["unit"])
    return f"{low}–{high}"


def wrapped(html):
    """`html` cut into lines of at most 100 columns (HTML ignores where a line breaks)."""
    return textwrap.wrap(html, width=100, break_long_words=False, break_on_hyphens=False)


def command_for(doc, scenario):
    """The command that measures one scenario, from the command that made the file."""
    words = doc["command"].split()
    program = next((w for w in words if w.endswith("gasched-bench")), "gasched-bench")
    return f"{program} --only {scenario}"


def row(f):
    def e(text):
        return html.escape(text, quote=False)

    name = e(f["name"]) + (f"<br><small>{e(f['note'])}</small>" if f.get("note") else "")
    median = e(with_unit(number(f["median"], f["unit"]), f["unit"]))
    return (f"<tr><td>{name}</td><td>{median}</td><td>{e(spread(f))}</td>"
            f"<td>{e(f.get('gascheduler', ''))}</td></tr>")


def table(doc):
    """One HTML table (Markdown's tables cannot wrap a row over several lines)."""
    lines = ["<table>",
             "<tr><th>figure</th><th>median</th><th>lowest–highest</th><th>gascheduler</th></tr>"]
    scenario = None
    for f in doc["figures"]:
        if f["scenario"] != scenario:
            scenario = f["scenario"]
            lines += wrapped(f'<tr><th colspan="4" align="left">{html.escape(scenario)}: '
                             f"<code>{html.escape(command_for(doc, scenario))}</code></th></tr>")
        lines += wrapped(row(f))
    lines.append("</table>")
    m = doc["machine"]
    quick = " (--quick: sizes too small to mean anything)" if doc.get("quick") else ""
    head = textwrap.fill(
        f"Made by `{doc['command']}` at commit `{doc['commit']}`{quick}, on "
        f"{m.get('cores', '?')} cores ({m.get('cpu', '?')}, {m.get('kernel', '?')}) with CAF's "
        f"`{m.get('caf_policy', '?')}` policy. Each figure is the median of its runs, "
        "with the lowest and highest run beside it; gascheduler's figures come from the "
        "same kind of machine, not from the same run.", width=90)
    return head + "\n\n" + "\n".join(lines) + "\n"


def rewrite(page, doc):
    start, end = page.find(BEGIN), page.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"docs/benchmarks.md lacks the markers {BEGIN!r} ... {END!r}")
    return page[:start] + BEGIN + "\n" + table(doc) + page[end:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--json", default=ROOT / "benchmarks" / "results.json", type=Path)
    parser.add_argument("--page", default=ROOT / "docs" / "benchmarks.md", type=Path)
    args = parser.parse_args()
    doc = json.loads(args.json.read_text(encoding="utf-8"))
    page = args.page.read_text(encoding="utf-8")
    fresh = rewrite(page, doc)
    if args.check:
        if fresh != page:
            print(f"{args.page} is not up to date with {args.json}: run "
                  "python3 benchmarks/results_table.py", file=sys.stderr)
            return 1
        return 0
    if fresh != page:
        args.page.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
