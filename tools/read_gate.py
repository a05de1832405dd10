#!/usr/bin/env python3
"""Reads `twoway diff`'s CI outputs with the readers CI systems use: a JUnit XML report with junitparser,
a Markdown report rendered by Python-Markdown (tables extension). Prints JSON: for --junit, the test and
failure counts and each failure's (classname, name, message); for --markdown, the rendered table's header
and body rows. The independent side of the gate-output test (reproduce/tests/cli_gate.rs).
"""

import argparse
import json
from html.parser import HTMLParser

import markdown
from junitparser import Failure, JUnitXml


class Rows(HTMLParser):
    """The rows of the first HTML table: each a list of its cells' text."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.tables = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
        elif tag == "tr" and self.tables == 1:
            self.rows.append([])
        elif tag in ("td", "th") and self.tables == 1:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--junit")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    out = {}
    if a.junit:
        xml = JUnitXml.fromfile(a.junit)
        cases = [case for suite in xml for case in suite]
        failures = [
            [case.classname, case.name, r.message]
            for case in cases
            for r in case.result
            if isinstance(r, Failure)
        ]
        out["junit"] = {"tests": len(cases), "failures": failures}
    if a.markdown:
        with open(a.markdown) as f:
            html = markdown.markdown(f.read(), extensions=["tables"])
        rows = Rows()
        rows.feed(html)
        out["markdown"] = {"header": rows.rows[0] if rows.rows else [], "rows": rows.rows[1:]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
