#!/usr/bin/env python3
"""Checks that the crate's modules import only from their own layer or the layers below it.

The folders under src/ are layers (docs/architecture.md describes them):

    0  src/error.rs       the error type every layer returns
    1  src/format/        the bytes of event lines: framing, parsing, the fold engine
    2  src/store/         the files on disk, the views' snapshot files included
    3  src/replay/        reading the history and folding it
    4  src/views/         views: state folded from the log
    5  src/live/          following the log as it grows
    6  src/tools/         inspection, verification and salvage
    7  src/log.rs, src/lib.rs   the facade, the crate root

Every path into the crate is read: `use crate::...` (grouped ones included), paths in code
(`crate::store::fsutil::fs()`), and `super::` paths. A path through one of the crate root's
re-exports (`crate::Event`) counts as an import of the module the item is defined in. Comments,
string literals and `#[cfg(test)]` items are not read: a module's tests may use the whole crate.

An import of a higher layer fails the check unless it is on ALLOWED below, the imports that run
upward today and wait for a change of design; those are printed as known. An entry of ALLOWED
that matches nothing fails too, so that the list only shrinks.

Usage: scripts/layer-check.py [--root DIR] [--verbose] [--self-test]
--root checks another checkout; --verbose also lists each path of the known imports;
--self-test checks the checker, on a copy of src/ with upward imports added in each form.
Exit status: 0 when every import points down or sideways, 1 when one does not (or an entry of
ALLOWED is stale), 2 when a file under src/ belongs to no layer.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

LAYERS = {
    "error": 0,
    "format": 1,
    "store": 2,
    "replay": 3,
    "views": 4,
    "live": 5,
    "tools": 6,
    "log": 7,
    "lib": 7,
}

# Imports that run upward today: (importing file under src/, imported module, why it is still
# there). Each is to be removed by handing the code down (docs/architecture.md, "Known upward
# imports", says how); remove its line when it is. None is left: the last two, in the writer,
# were handed down to replay/ and views/.
ALLOWED = []


def layer_of_file(rel):
    """The layer of a file, from its path under src/; None when it has none."""
    first = rel.split("/")[0]
    if first.endswith(".rs"):
        first = first[: -len(".rs")]
    return LAYERS.get(first)


def module_of_file(rel):
    """The module path of src/`rel`: ['live', 'subscribe', 'cursor'] for
    live/subscribe/cursor.rs, ['format', 'simd'] for format/simd/mod.rs."""
    parts = rel[: -len(".rs")].split("/")
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def strip(text):
    """The code of a Rust file with comments and the contents of string and character literals
    blanked out (newlines kept, so line numbers stay right)."""
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
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and raw_string_at(text, i):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            # A character literal ('a', '\n', '\u{7f}'), or a lifetime ('a) left as it is.
            m = re.match(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", text[i:])
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


def raw_string_at(text, i):
    """Whether a raw string literal (r"..", r#".."#, br"..") starts at the `r` at `i`."""
    before = text[max(i - 2, 0) : i]
    before = before[:-1] if before.endswith("b") else before[-1:]
    return bool(re.match(r'r#*"', text[i : i + 260])) and not re.match(r"\w", before[-1:])


def blank_test_items(code):
    """Blanks out every item under a plain `#[cfg(test)]` (up to its closing brace, or its `;`)."""
    out = list(code)
    for m in re.finditer(r"#\[cfg\(test\)\]", code):
        j = m.end()
        while j < len(code) and code[j] not in "{;":
            j += 1
        if j < len(code) and code[j] == "{":
            depth = 0
            while j < len(code):
                if code[j] == "{":
                    depth += 1
                elif code[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
        for k in range(m.start(), min(j + 1, len(code))):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out)


def split_group(inner):
    """The top-level items of the inside of a `{...}` use group."""
    items, depth, start = [], 0, 0
    for k, c in enumerate(inner):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(inner[start:k])
            start = k + 1
    items.append(inner[start:])
    return [" ".join(item.split()) for item in items if item.strip()]


def group_at(code, brace):
    """The inside of the brace group that opens at `brace`."""
    depth = 0
    for k in range(brace, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return code[brace + 1 : k]
    return code[brace + 1 :]


def paths_in(code):
    """(line, path segments) of every path into the crate: `crate::a::b`, `crate::{a::b, c}`
    (one path per item), `super::a`."""
    found = []
    for m in re.finditer(r"(?<![\w$:])(crate|super)\s*::\s*", code):
        line = code.count("\n", 0, m.start()) + 1
        supers = 0
        head = m.group(1)
        j = m.end()
        while head == "super" and code.startswith("super", j):
            supers += 1
            j = code.find("::", j) + 2
            while code[j].isspace():
                j += 1
        prefix = ["crate"] if head == "crate" else ["super"] * (supers + 1)
        if code.startswith("{", j):
            found += [(line, prefix + segments(item)) for item in split_group(group_at(code, j))]
        else:
            found.append((line, prefix + segments(code[j:])))
    return found


def segments(text):
    """The segments of the path that `text` starts with: ['a', 'b'] for `a::b::{c, d}`."""
    m = re.match(r"\w+(?:\s*::\s*\w+)*", text)
    return re.split(r"\s*::\s*", m.group(0)) if m else []


def root_reexports(src):
    """What the crate root re-exports: name -> module path it is defined in (from lib.rs)."""
    code = blank_test_items(strip(open(os.path.join(src, "lib.rs")).read()))
    table = {}
    for m in re.finditer(r"\bpub\s+use\s+([^;]*);", code):
        body = " ".join(m.group(1).split())
        if "{" in body:
            base, inner = body.split("{", 1)
            base = segments(base)
            names = split_group(inner.rsplit("}", 1)[0])
        else:
            base, names = [], [body]
        for name in names:
            segs = base + segments(name)
            alias = name.split(" as ")[-1].strip() if " as " in name else segs[-1]
            table[alias] = segs
    return table


def target_module(rel, segs, reexports):
    """The crate-level module a path names (['replay', 'reader'] for crate::replay::reader::X),
    through the root's re-exports; None for a path that stays in its own file."""
    if segs[0] == "super":
        supers = len([s for s in segs if s == "super"])
        base = module_of_file(rel)[: -supers] if supers <= len(module_of_file(rel)) else []
        segs = ["crate"] + base + segs[supers:]
    rest = segs[1:]
    if not rest:
        return None
    if rest[0] not in LAYERS and rest[0] in reexports:
        via = reexports[rest[0]]
        return via[:2] if via[0] in LAYERS and via[0] not in ("error", "log") else via[:1]
    if rest[0] in ("error", "log"):
        return rest[:1]
    return rest[:2]


def is_upward(rel, path, reexports):
    """Whether `path`, found in src/`rel`, names a module of a layer above the file's own."""
    target = target_module(rel, path[1], reexports)
    return bool(target) and target[0] in LAYERS and LAYERS[target[0]] > layer_of_file(rel)


def check(root, verbose=False):
    src = os.path.join(root, "src")
    reexports = root_reexports(src)
    unmapped, upward, in_tests = [], [], 0
    for dirpath, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), src).replace(os.sep, "/")
            own = layer_of_file(rel)
            if own is None:
                unmapped.append(rel)
                continue
            stripped = strip(open(os.path.join(dirpath, name)).read())
            in_code = paths_in(blank_test_items(stripped))
            in_tests += len(
                [p for p in paths_in(stripped) if p not in in_code and is_upward(rel, p, reexports)]
            )
            for line, segs in in_code:
                if is_upward(rel, (line, segs), reexports):
                    target = target_module(rel, segs, reexports)
                    upward.append((rel, line, "::".join(target), LAYERS[target[0]], own))
    if unmapped:
        for rel in unmapped:
            print(f"src/{rel}: belongs to no layer (see LAYERS in {sys.argv[0]})")
        return 2

    failed = False
    used = set()
    for rel, line, target, theirs, own in sorted(upward):
        known = [a for a in ALLOWED if a[0] == rel and a[1] == target]
        if known:
            used.add(known[0][:2])
            if verbose:
                print(f"src/{rel}:{line}: imports crate::{target} (layer {theirs} > {own}), known")
            continue
        failed = True
        print(f"src/{rel}:{line}: imports crate::{target} (layer {theirs} > {own})")
    for rel, target, reason in ALLOWED:
        if (rel, target) in used:
            print(f"known, to be removed: src/{rel} -> crate::{target}: {reason}")
        else:
            failed = True
            print(f"src/{rel} -> crate::{target} is allowed but not imported: remove it")
    if in_tests:
        print(f"({in_tests} upward paths in #[cfg(test)] items, not checked)")
    if failed:
        print("layer check failed: a module imports from a layer above its own")
        return 1
    print(f"layer check passed ({len(used)} known upward imports)")
    return 0


def self_test():
    """Runs the check on a copy of src/ with upward imports added, in each form it reads."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    # (file, what is appended to it, what the check must report)
    cases = [
        ("format/lines.rs", "use crate::views::view::View;\n", "crate::views::view (layer 4 > 1)"),
        (
            "format/lines.rs",
            "use crate::{error::Error, replay::scan};\n",
            "crate::replay::scan (layer 3 > 1)",
        ),
        (
            "replay/scan.rs",
            "use crate::{\n    live::follow::Follow,\n};\n",
            "crate::live::follow (layer 5 > 3)",
        ),
        (
            "store/mmap.rs",
            "fn f() { crate::tools::stats::f() }\n",
            "crate::tools::stats (layer 6 > 2)",
        ),
        ("store/mmap.rs", "fn f() -> crate::EventLog { todo!() }\n", "crate::log (layer 7 > 2)"),
        (
            "live/subscribe/cursor.rs",
            "use super::super::super::tools::stats;\n",
            "crate::tools::stats (layer 6 > 5)",
        ),
    ]
    # (file, what is appended to it and must not be reported)
    quiet = [
        ("format/lines.rs", "// use crate::views::view::View;\n"),
        ("format/lines.rs", "/* crate::views::view */\n"),
        ("format/lines.rs", 'const S: &str = "crate::views::view";\n'),
        ("format/lines.rs", 'const R: &[u8] = br#"crate::views::view"#;\n'),
        ("format/lines.rs", "#[cfg(test)]\nmod more_tests {\n    use crate::EventLog;\n}\n"),
        ("views/view.rs", "use crate::replay::scan;\n"),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(os.path.join(root, "src"), os.path.join(tmp, "src"))
        base = run_copy(tmp)
        if base[0] != 0:
            print(f"self-test: the check fails on the unchanged sources:\n{base[1]}")
            return 1
        for rel, added, expected in cases:
            status, output = run_copy(tmp, rel, added)
            if status != 1 or expected not in output:
                failures += 1
                print(f"self-test: {added.strip()!r} in {rel}, not reported as {expected!r}:")
                print(output)
        for rel, added in quiet:
            status, output = run_copy(tmp, rel, added)
            if status != 0:
                failures += 1
                print(f"self-test: {added.strip()!r} in {rel} was reported:\n{output}")
    print("self-test " + ("failed" if failures else "passed"))
    return 1 if failures else 0


def run_copy(tmp, rel=None, added=""):
    """Runs the check on the copy in `tmp`, with `added` appended to src/`rel` for the run."""
    path = os.path.join(tmp, "src", rel) if rel else None
    original = open(path).read() if path else None
    if path:
        with open(path, "w") as f:
            f.write(original + added)
    try:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--root", tmp],
            capture_output=True,
            text=True,
        )
        return proc.returncode, proc.stdout + proc.stderr
    finally:
        if path:
            with open(path, "w") as f:
                f.write(original)


def main(args):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    verbose = False
    while args:
        arg = args.pop(0)
        if arg == "--root" and args:
            root = args.pop(0)
        elif arg == "--verbose":
            verbose = True
        elif arg == "--self-test":
            return self_test()
        else:
            print("usage: scripts/layer-check.py [--root DIR] [--verbose] [--self-test]")
            return 2
    return check(root, verbose)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
