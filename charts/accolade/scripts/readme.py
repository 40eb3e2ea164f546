#!/usr/bin/env python3
"""Writes the parameter tables of the chart's README.md from the `## @param` lines of values.yaml.

Usage: readme.py [--check]. With --check, exits 1 when README.md is not up to date.
The comment syntax is that of Bitnami's readme-generator: `## @section Title` opens a
table (plain `##` lines right after it describe the section) and
`## @param dotted.path Description` adds a row whose value comes from values.yaml.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent
START = "<!-- parameters:start -->"
END = "<!-- parameters:end -->"
_MISSING = object()


@dataclasses.dataclass
class Section:
    """One `## @section` of values.yaml and the parameters documented under it."""

    title: str
    description: list[str] = dataclasses.field(default_factory=list)
    params: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def parse(values_text: str) -> list[Section]:
    """The sections of values.yaml, each with its (path, description) parameters."""
    sections: list[Section] = []
    describing = False
    for raw in values_text.splitlines():
        line = raw.strip()
        if line.startswith("## @section "):
            sections.append(Section(line.removeprefix("## @section ").strip()))
            describing = True
        elif line.startswith("## @param "):
            path, _, description = line.removeprefix("## @param ").strip().partition(" ")
            if not sections:
                raise ValueError(f"@param {path} comes before any @section")
            sections[-1].params.append((path, description.strip()))
            describing = False
        elif describing and line.startswith("## ") and sections:
            sections[-1].description.append(line.removeprefix("## ").strip())
        else:
            describing = False
    return sections


def lookup(values: Any, path: str) -> Any:
    """The value at a dotted path, or _MISSING."""
    node = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _cell(value: Any) -> str:
    if isinstance(value, str):
        text = value if value else '""'
    else:
        text = json.dumps(value, separators=(",", ":"))
    return "`" + text.replace("|", "\\|") + "`"


def tables(values_text: str) -> str:
    """The Markdown of every section's table."""
    values = yaml.safe_load(values_text)
    out: list[str] = []
    for section in parse(values_text):
        out.append(f"### {section.title}")
        out.append("")
        if section.description:
            out.append(" ".join(section.description))
            out.append("")
        out.append("| Name | Description | Value |")
        out.append("| ---- | ----------- | ----- |")
        for path, description in section.params:
            value = lookup(values, path)
            if value is _MISSING:
                raise ValueError(f"@param {path} is not a key of values.yaml")
            description = description.replace("|", "\\|")
            out.append(f"| `{path}` | {description} | {_cell(value)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def rendered(readme_text: str, values_text: str) -> str:
    """README.md with its parameter block replaced by freshly generated tables."""
    head, start, rest = readme_text.partition(START)
    _, end, tail = rest.partition(END)
    if not (start and end):
        raise ValueError(f"README.md lacks the {START} ... {END} markers")
    return f"{head}{START}\n\n{tables(values_text)}\n{END}{tail}"


def main() -> int:
    """Rewrites README.md, or with --check reports whether it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args()
    readme = CHART / "README.md"
    current = readme.read_text()
    wanted = rendered(current, (CHART / "values.yaml").read_text())
    if args.check:
        if current != wanted:
            sys.stderr.write("README.md is stale: run charts/accolade/scripts/readme.py\n")
            return 1
        return 0
    if current != wanted:
        readme.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
