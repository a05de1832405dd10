#!/usr/bin/env python3
"""The layering rules of the `twoway` crate (reproduce/src), checked by `make lint`:

1. no import cycle among its modules (a module is a file; every `crate::` or `super::` path counts, in `use`
   declarations and in code, test modules aside);
2. nothing outside `cli/` imports `cli`;
3. clap appears only under `cli/` (derives, attributes, paths);
4. no function is longer than --max-fn-lines (default 90) lines.

`--self-test` checks the checker on small made-up crates (a cycle, a cli import, a clap derive outside cli,
a long function, and a clean crate). Exit 1 with one line per violation.
"""

import argparse
import os
import re
import sys
import tempfile

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """The text with comments, string and char literals blanked (newlines kept), so that braces and paths
    are the code's."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1])):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + 2 + len(hashes))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_tests(code):
    """The code without its `#[cfg(test)] mod ... { ... }` blocks."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+" + IDENT + r"\s*\{", code)
        if not m:
            return code
        depth, j = 0, m.end() - 1
        while j < len(code):
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
            if depth == 0:
                break
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start() : j]) + code[j:]


def module_of(rel):
    """`grid/plan.rs` -> ["grid", "plan"]; `grid/mod.rs` -> ["grid"]; `lib.rs` -> []."""
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def expand_use(tree):
    """The paths of a use tree: `a::{b, c::{d, self}}` -> a::b, a::c::d, a::c."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+" + IDENT, "", tree))
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"::self$", "", tree)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    out = []
    for p in filter(None, parts):
        out += [re.sub(r"::self$", "", x) for x in expand_use(prefix + p)]
    return out


def paths(code):
    """Every `crate::...` and `super::...` path of the code, and the paths into its own child modules
    (`mod x;` ... `x::y`), written `self::x::y`."""
    children = re.findall(r"\bmod\s+(" + IDENT + r")\s*;", code)
    roots = ("crate::", "super::", "self::") + tuple(c + "::" for c in children)
    found = []
    for m in re.finditer(r"\buse\s+([^;]*);", code):
        found += [p for p in expand_use(m.group(1)) if p.startswith(roots)]
    body = re.sub(r"\buse\s+[^;]*;", lambda m: re.sub(r"[^\n]", " ", m.group(0)), code)
    found += re.findall(r"\b(?:crate|super)(?:::" + IDENT + ")+", body)
    for c in children:
        found += re.findall(r"(?<![:\w])" + c + r"(?:::" + IDENT + ")+", body)
    return [p if p.startswith(("crate::", "super::", "self::")) else "self::" + p for p in found]


def resolve(path, here, modules):
    """The file module a path lands in: the longest prefix of its absolute segments that is a module."""
    segs = path.split("::")
    base = []
    if segs[0] == "crate":
        segs = segs[1:]
    elif segs[0] == "self":
        base, segs = list(here), segs[1:]
    else:
        base = list(here)
        while segs and segs[0] == "super":
            base = base[:-1]
            segs = segs[1:]
    full = base + segs
    for k in range(len(full), -1, -1):
        if tuple(full[:k]) in modules:
            return tuple(full[:k])
    return ()


def fn_lengths(code):
    """(name, first line, lines) of every function with a body."""
    out = []
    for m in re.finditer(r"\bfn\s+(" + IDENT + r")", code):
        j, depth = m.end(), 0
        # The body's opening brace: the first `{` outside the signature's parentheses and angle brackets;
        # a `;` first means a declaration without a body.
        while j < len(code) and code[j] not in "{;":
            j += 1
        if j >= len(code) or code[j] == ";":
            continue
        start = j
        while j < len(code):
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
            if depth == 0:
                break
        first = code.count("\n", 0, m.start()) + 1
        out.append((m.group(1), first, code.count("\n", m.start(), j) + 1, start))
    return out


def check(src, max_fn_lines):
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, src).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    files[rel] = strip(f.read())
    # A folder module without a mod.rs is not a file; inline `mod x {}` blocks belong to their file.
    modules = {tuple(module_of(rel)): rel for rel in files if rel != "main.rs"}
    problems, edges = [], {}
    for rel, code in sorted(files.items()):
        here = tuple(module_of(rel))
        inner = "cli" in here[:1]
        for p in paths(without_tests(code)):
            target = resolve(p, here, modules)
            if target and target != here:
                edges.setdefault(rel, set()).add(modules[target])
            if target[:1] == ("cli",) and not inner and rel != "main.rs":
                problems.append(f"{rel}: imports `{p}`: only cli/ (and main.rs) may use the command line")
        if not inner:
            for n, line in enumerate(code.splitlines(), 1):
                if re.search(r"\bclap\b|#\[(arg|command|value)\(", line):
                    problems.append(f"{rel}:{n}: clap outside cli/: {line.strip()}")
        for name, first, lines, _ in fn_lengths(code):
            if lines > max_fn_lines:
                problems.append(f"{rel}:{first}: fn {name} is {lines} lines (at most {max_fn_lines})")
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return problems, edges


def cycles(edges):
    """One cycle per strongly connected component of more than one file (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp) + [sorted(comp)[0]])

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def self_test():
    cases = {
        "clean": ({"lib.rs": "pub mod a; pub mod cli;", "a.rs": "use crate::b::X; fn f() { let s = \"crate::cli\"; }",
                   "b.rs": "pub struct X;", "cli/mod.rs": "use crate::a; #[derive(clap::Parser)] struct C;"}, []),
        "cycle": ({"lib.rs": "", "g/mod.rs": "pub mod p;", "g/p.rs": "use super::q::Y; pub struct X;",
                   "g/q.rs": "pub struct Y; fn f() { crate::g::p::X; }"}, ["import cycle"]),
        "cli import": ({"lib.rs": "", "cli/mod.rs": "pub enum T {}", "x.rs": "use crate::{cli::T, y};",
                        "y.rs": ""}, ["only cli/"]),
        "clap outside cli": ({"lib.rs": "", "x.rs": "#[derive(Debug, clap::ValueEnum)] enum F { A }"},
                             ["clap outside cli/"]),
        "long fn": ({"lib.rs": "", "x.rs": "fn long() {\n" + "    let _ = '{';\n" * 95 + "}\n"}, ["fn long is 97"]),
        "child paths": ({"lib.rs": "", "g/mod.rs": "pub mod p;\npub fn run() { p::plan(); }",
                         "g/p.rs": "use crate::g as grid; pub fn plan() {}"}, ["import cycle"]),
        "aliases": ({"lib.rs": "", "g/mod.rs": "pub mod lease;", "g/lease.rs": "", "g/x.rs": "use super::lease as l;"},
                    []),
        "tests aside": ({"lib.rs": "", "a.rs": "use crate::b;\n#[cfg(test)]\nmod tests { use crate::a; }",
                         "b.rs": "use crate::a;"}, ["import cycle"]),
    }
    failed = 0
    for name, (tree, expected) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for rel, text in tree.items():
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                with open(os.path.join(d, rel), "w") as f:
                    f.write(text)
            problems, _ = check(d, 90)
        ok = len(problems) == len(expected) and all(any(e in p for p in problems) for e in expected)
        if not ok:
            failed += 1
            print(f"self-test `{name}`: expected {expected}, got {problems}", file=sys.stderr)
    print(f"check_layers self-test: {len(cases) - failed} of {len(cases)} cases passed")
    return failed == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=os.path.join(os.path.dirname(__file__), "..", "reproduce", "src"))
    ap.add_argument("--max-fn-lines", type=int, default=90)
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--graph", action="store_true", help="print the file-level import graph")
    a = ap.parse_args()
    if a.self_test:
        sys.exit(0 if self_test() else 1)
    problems, edges = check(a.src, a.max_fn_lines)
    if a.graph:
        for src in sorted(edges):
            print(f"{src} -> {', '.join(sorted(edges[src]))}")
    for p in problems:
        print(f"check_layers: {p}", file=sys.stderr)
    n = len({e for v in edges.values() for e in v})
    print(f"check_layers: {len(edges)} files import {n} others; {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
