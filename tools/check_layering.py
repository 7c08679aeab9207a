#!/usr/bin/env python3
"""Checks that each module under src/ includes only the modules it may use.

The allowed edges are the table under "## Allowed dependencies" in
docs/ARCHITECTURE.md (one row per module: `| module | may include |`). A source
file src/M/... may include "X/..." only when X is M or listed for M; a test
(*_test.cc, src/*/testing/) may also include any module but cli. The table
itself must have no cycle. Exit status 0 when clean, 1 with one line per
violation otherwise.

  tools/check_layering.py [REPO_ROOT]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                    pathlib.Path(__file__).resolve().parent.parent)
doc = (root / "docs" / "ARCHITECTURE.md").read_text()
section = doc.split("## Allowed dependencies", 1)
if len(section) != 2:
    sys.exit("docs/ARCHITECTURE.md: no '## Allowed dependencies' section")
allowed = {}
for line in section[1].split("\n## ", 1)[0].splitlines():
    m = re.match(r"\|\s*`([a-z_]+)/`\s*\|([^|]*)\|", line)
    if m:
        allowed[m.group(1)] = set(re.findall(r"`([a-z_]+)/`", m.group(2)))

problems = []
modules = {p.name for p in (root / "src").iterdir() if p.is_dir()}
for m in sorted(modules - allowed.keys()):
    problems.append(f"src/{m}/: module missing from the table in docs/ARCHITECTURE.md")

# No cycles in the table.
state = {}
def visit(m, path):
    if state.get(m) == "done":
        return
    if state.get(m) == "open":
        problems.append("cycle in the table: " + " -> ".join(path + [m]))
        return
    state[m] = "open"
    for d in sorted(allowed.get(m, ())):
        visit(d, path + [m])
    state[m] = "done"
for m in sorted(allowed):
    visit(m, [])

include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
for f in sorted((root / "src").rglob("*")):
    if f.suffix not in (".h", ".cc") or not f.is_file():
        continue
    rel = f.relative_to(root)
    module = rel.parts[1]
    test = f.name.endswith("_test.cc") or "testing" in rel.parts
    for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
        m = include.match(line)
        if not m:
            continue
        dep = m.group(1)
        if dep == module or dep not in modules:
            continue
        if dep in allowed.get(module, ()) or (test and dep != "cli"):
            continue
        problems.append(f"{rel}:{n}: {module}/ may not include {dep}/ "
                        f"(docs/ARCHITECTURE.md, Allowed dependencies)")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
