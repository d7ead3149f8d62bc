#!/usr/bin/env python3
"""Checks that #include directives point one way through the project (README, Layout):

  app -> ui -> core -> kernels   a file includes from its own layer or a lower one; everything
                                 above kernels reaches kernels through its public header only
                                 (<scalebits/kernels.h>), never its internals
  core/<folder>                  a folder includes from its own folder or a lower one, in CORE_ORDER
                                 (lowest first); any include the other way is a cycle in the making
  no Qt in core/ or kernels/; no LibTorch or CUDA in kernels' public header nor in the Torch-free
  libraries (TORCH_FREE: what the parsers, the allocator and the fuzz build link)

Usage: scripts/check_includes.py [ROOT]   prints each violation as FILE:LINE: problem, exits 1 if any.
       scripts/check_includes.py --self-test   checks that planted violations are found.
"""
import fnmatch
import os
import re
import sys

LAYERS = ["kernels", "core", "ui", "app"]
CORE_ORDER = ["util", "base", "alloc", "quant", "io", "tokenizer", "model", "runtime", "eval", "calib",
              "reorder", "analysis", "export", "workflow"]
# Files of the plain C++ libraries (core/CMakeLists.txt): no LibTorch, CUDA or Qt.
TORCH_FREE = ["kernels/include/*", "core/base/*", "core/alloc/*", "core/io/*", "core/tokenizer/*",
              "core/util/version.*", "core/util/default_paths.*", "core/util/allocator_tuning.*",
              "core/util/cancel.h", "core/util/error.h", "core/util/option_error.h", "core/analysis/analysis.*",
              "core/analysis/analysis_file.*", "core/analysis/summary.*", "core/reorder/permutations.*",
              "core/model/checkpoint.*", "core/runtime/*", "core/eval/sampler.*", "core/eval/generate.*",
              "ui/models/*"]  # item models: no LibTorch behind a table
SOURCE_DIRS = ["kernels", "core", "ui", "app"]
EXTENSIONS = (".h", ".hpp", ".cpp", ".cu", ".cuh")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
HEAVY = ("torch/", "ATen/", "c10/", "cuda", "cublas", "cuda_runtime")


def layer_of(path):
    return path.split("/", 1)[0]


def core_folder(path):
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "core" else None


def check_file(path, text):
    """Yields (line, message) for every include of `path` (relative, '/'-separated) that breaks a rule."""
    layer = layer_of(path)
    torch_free = any(fnmatch.fnmatch(path, p) for p in TORCH_FREE)
    for number, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        quote, target = m.groups()
        if quote == "<":
            if layer in ("core", "kernels") and re.match(r"Q[A-Za-z]*($|/|\.h)", target):
                yield number, f"includes Qt ({target}) in {layer}/, which has no Qt"
            if torch_free and target.startswith(HEAVY):
                yield number, f"includes {target} in a file of a library without LibTorch or CUDA"
            continue
        head = layer_of(target)
        if head not in LAYERS:
            continue  # a sibling header by relative name, or a generated file
        if LAYERS.index(head) > LAYERS.index(layer):
            yield number, f"includes {target}: {layer}/ may not include from {head}/ above it"
        elif head == "kernels" and layer != "kernels":
            yield number, f"includes kernels' internals ({target}): use <scalebits/kernels.h>"
        elif head == "core" and layer == "core":
            here, there = core_folder(path), core_folder(target)
            if here not in CORE_ORDER:
                yield number, f"core/{here} is not in CORE_ORDER (add the folder there)"
            elif there in CORE_ORDER and CORE_ORDER.index(there) > CORE_ORDER.index(here):
                yield number, f"includes {target}: core/{here} may not include from core/{there} above it"
            elif there not in CORE_ORDER:
                yield number, f"includes {target}: core/{there} is not in CORE_ORDER (add the folder there)"
        if torch_free and head == "core" and not any(fnmatch.fnmatch(target, p) for p in TORCH_FREE):
            yield number, f"includes {target}, which is not Torch-free, from a file of a library without LibTorch"


def check_tree(files):
    """files: {relative path: text}. Returns ["path:line: message", ...]."""
    problems = []
    for path in sorted(files):
        for number, message in check_file(path, files[path]):
            problems.append(f"{path}:{number}: {message}")
    return problems


def read_tree(root):
    files = {}
    for top in SOURCE_DIRS:
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if name.endswith(EXTENSIONS):
                    full = os.path.join(folder, name)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    with open(full, encoding="utf-8", errors="replace") as f:
                        files[rel] = f.read()
    return files


def self_test():
    planted = {
        "core/io/reader.cpp": '#include "core/model/checkpoint.h"\n',          # io above model: upward
        "core/analysis/a.cpp": '#include "ui/views/plot.h"\n',                 # core including ui
        "core/alloc/b.cpp": "#include <QString>\n",                             # Qt in core
        "kernels/include/scalebits/kernels.h": "#include <torch/torch.h>\n",   # LibTorch in the public header
        "core/quant/c.cpp": '#include "kernels/cpu/tiles.h"\n',                # kernels' internals
        "core/base/d.h": '#include "core/eval/text.h"\n',                      # base above eval, not Torch-free
        "core/nowhere/e.cpp": '#include "core/util/error.h"\n',                # a folder without a rank
        "core/eval/h.cpp": '#include "core/util/error.h"\n',                   # fine: util is the bottom
        "core/export/f.cpp": '#include "core/analysis/analysis.h"\n#include <scalebits/kernels.h>\n',  # fine
        "ui/views/g.cpp": '#include "core/alloc/methods.h"\n#include <QWidget>\n',                    # fine
    }
    found = check_tree(planted)
    expect = {"core/io/reader.cpp", "core/analysis/a.cpp", "core/alloc/b.cpp", "kernels/include/scalebits/kernels.h",
              "core/quant/c.cpp", "core/base/d.h", "core/nowhere/e.cpp"}
    got = {p.split(":", 1)[0] for p in found}
    if got != expect:
        print("self-test failed: expected violations in", sorted(expect), "found", found, file=sys.stderr)
        return 1
    print(f"check_includes self-test: the {len(expect)} planted violations found, the {len(planted) - len(expect)} clean files pass")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    files = read_tree(root)
    problems = check_tree(files)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"check_includes: {len(files)} files, {len(problems)} includes against the layering")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
