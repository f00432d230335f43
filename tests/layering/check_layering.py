#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The layering check (issue 23): no arrow points upward.

    base (src/base, polyglot_base)  <-  libpolyglot (src/<area>)  <-  CLI (tools/polyglot)
                                    <-  plugins (plugins/)

Fails, naming each offending file and line, when
  1. a file under src/ includes a header of plugins/ ("common/...", "runtime/...", ...);
  2. a file under src/base/ includes anything of the rest of src/ or of plugins/;
  3. a file under plugins/ includes a libpolyglot-private header (src/<area>/, area != base);
  4. a target defined under src/ links a target defined under plugins/, or one under src/base
     a target of the rest of src/ (the link graph that tests/layering.cmake writes at configure
     time: lines "TARGET<TAB>DIR<TAB>DEP<TAB>DEP_DIR");
  5. the polyglot_base archive needs a polyglot:: symbol that it does not define (a function of
     libpolyglot called through a public header: an upward edge that no include shows).
Public headers (<polyglot/...>) may be included from anywhere.

Usage: check_layering.py SOURCE_DIR [LINK_GRAPH_FILE [POLYGLOT_BASE_ARCHIVE]]
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
EXTENSIONS = (".cpp", ".hpp", ".h", ".inc", ".cu", ".cuh", ".mm")


def sources(root):
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if name.endswith(EXTENSIONS):
                yield os.path.join(dirpath, name)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1), m.group(2)


def resolve(header, candidates):
    """The first existing file among candidate roots / header (normalised), or None."""
    for root in candidates:
        p = os.path.normpath(os.path.join(root, header))
        if os.path.isfile(p):
            return p
    return None


def under(path, directory):
    return os.path.commonpath([path, directory]) == directory


def check_sources(top):
    src = os.path.join(top, "src")
    base = os.path.join(src, "base")
    plugins = os.path.join(top, "plugins")
    # The include roots the build gives: src/ (libpolyglot, polyglot_base), plugins/ and
    # plugins/common/ (polyglot_model_common and the runtime), each plugin's own directory.
    plugin_roots = [plugins, os.path.join(plugins, "common")]
    errors = []

    for path in sources(src):
        here = os.path.dirname(path)
        in_base = under(path, base)
        for line, kind, header in includes(path):
            close = ">" if kind == "<" else '"'
            where = f"{os.path.relpath(path, top)}:{line}: #include {kind}{header}{close}"
            if kind == "<":
                first = header.split("/")[0]
                if first in ("common", "runtime", "constrained", "cpu_kernels", "engine"):
                    errors.append(f"{where}: a plugins/ header from src/")
                continue
            own = resolve(header, [here, src])
            if own is None:
                if resolve(header, plugin_roots + [here]) is not None or "/" in header:
                    errors.append(f"{where}: not a header of src/ (a plugins/ header?)")
                continue
            if in_base and not under(own, base):
                errors.append(f"{where}: src/base includes {os.path.relpath(own, top)}, "
                              "above it")

    for path in sources(plugins):
        here = os.path.dirname(path)
        for line, kind, header in includes(path):
            if kind == "<":
                continue
            where = f"{os.path.relpath(path, top)}:{line}: #include \"{header}\""
            if resolve(header, [here] + plugin_roots) is not None:
                continue
            found = resolve(header, [src])
            if found is not None and not under(found, base):
                errors.append(f"{where}: libpolyglot-private header "
                              f"{os.path.relpath(found, top)} (only src/base is below plugins)")
    return errors


def check_links(top, graph_file):
    src = os.path.join(top, "src")
    base = os.path.join(src, "base")
    plugins = os.path.join(top, "plugins")
    errors = []
    with open(graph_file, encoding="utf-8") as f:
        for row in f:
            fields = row.rstrip("\n").split("\t")
            if len(fields) != 4:
                continue
            target, directory, dep, dep_dir = fields
            if under(os.path.normpath(directory), src) and \
                    under(os.path.normpath(dep_dir), plugins):
                errors.append(f"target {target} ({os.path.relpath(directory, top)}) links "
                              f"{dep} ({os.path.relpath(dep_dir, top)}): src/ may not link "
                              "plugins/")
            elif under(os.path.normpath(directory), base) and \
                    under(os.path.normpath(dep_dir), src) and \
                    not under(os.path.normpath(dep_dir), base):
                errors.append(f"target {target} ({os.path.relpath(directory, top)}) links "
                              f"{dep} ({os.path.relpath(dep_dir, top)}): src/base may not link "
                              "the rest of src/")
    return errors


def symbols(archive, flag):
    out = subprocess.run(["nm", flag, archive], check=True, capture_output=True, text=True).stdout
    names = set()
    for row in out.splitlines():
        fields = row.split()
        if flag == "--undefined-only" and len(fields) == 2 and fields[0] == "U":
            names.add(fields[1])
        elif flag == "--defined-only" and len(fields) == 3:
            names.add(fields[2])
    return names


def check_archive(archive):
    if not os.path.isfile(archive):
        print(f"layering: {archive} not built yet, its symbols are not checked")
        return []
    # Mangled names of namespace polyglot contain "8polyglot".
    missing = sorted(n for n in symbols(archive, "--undefined-only") - symbols(archive,
                     "--defined-only") if "8polyglot" in n)
    if not missing:
        return []
    demangled = subprocess.run(["c++filt"], input="\n".join(missing), check=True,
                               capture_output=True, text=True).stdout.splitlines()
    return [f"{os.path.basename(archive)} needs {d}, defined above it" for d in demangled]


def main(argv):
    if len(argv) not in (2, 3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    top = os.path.realpath(argv[1])
    errors = check_sources(top)
    if len(argv) >= 3:
        errors += check_links(top, argv[2])
    if len(argv) == 4:
        errors += check_archive(argv[3])
    for e in errors:
        print(e)
    if errors:
        print(f"layering: {len(errors)} upward edge(s)")
        return 1
    print("layering: no upward edges")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
