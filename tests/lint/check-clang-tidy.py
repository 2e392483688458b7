#!/usr/bin/env python3
"""check-clang-tidy.py SRCDIR BUILDDIR [FILE...] - static analysis (SAST) of the C
sources of lib/ and examples/ with clang-tidy (Debian package clang-tidy),
with the checks of SRCDIR/.clang-tidy, each file compiled as the build
compiles it (BUILDDIR/compile_commands.json). TAP, one line per file; a
finding fails the test. Fails when clang-tidy is missing. With FILEs
(paths relative to SRCDIR), only those.

Files run in parallel (CM_TIDY_JOBS, default: the number of CPUs). A file
without a finding is remembered in BUILDDIR/clang-tidy-cache under a hash of
the clang-tidy version, .clang-tidy, its compile command and the contents of
every file it includes (as ninja recorded them), so a rerun analyses only
what changed. CM_TIDY_NO_CACHE=1 analyses everything (and refreshes the
cache)."""
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys


def main():
    src, build = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2])
    tidy = shutil.which("clang-tidy")
    if not tidy:
        print("1..1")
        print("not ok 1 - clang-tidy is not installed (apt-get install clang-tidy; scripts/setup.sh)")
        return 1
    with open(os.path.join(build, "compile_commands.json")) as f:
        db = json.load(f)
    units = []
    seen = set()
    for e in db:
        path = os.path.realpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(path, src)
        # the project's own sources only: not the tests, not code generated
        # into the build directory, not Debian's llhttp
        if not re.match(r"^(lib|examples)/.*\.c$", rel) or path.startswith(build + "/"):
            continue
        if rel in seen or (sys.argv[3:] and rel not in sys.argv[3:]):
            continue
        seen.add(rel)
        units.append((rel, e))
    units.sort()
    version = subprocess.run([tidy, "--version"], capture_output=True, text=True).stdout
    with open(os.path.join(src, ".clang-tidy"), "rb") as f:
        config = f.read()
    cache = os.path.join(build, "clang-tidy-cache")
    os.makedirs(cache, exist_ok=True)
    use_cache = os.environ.get("CM_TIDY_NO_CACHE") != "1"

    # what each object was compiled from, as ninja recorded it (the
    # compiler's depfiles end up in ninja's log, not on disk)
    deps = {}
    p = subprocess.run(["ninja", "-C", build, "-t", "deps"], capture_output=True, text=True)
    obj = None
    for line in p.stdout.splitlines():
        if line and not line[0].isspace():
            obj = line.split(":", 1)[0] if "(VALID)" in line else None
            if obj:
                deps[obj] = []
        elif obj and line.strip():
            deps[obj].append(line.strip())

    def key_of(e):
        """The cache key of a unit, or None when its inputs are not known."""
        cmd = e.get("command") or " ".join(e.get("arguments", []))
        m = re.search(r" -o (\S+)", cmd)
        if not m or m.group(1) not in deps:
            return None
        h = hashlib.sha256()
        h.update(version.encode() + b"\0" + config + b"\0" + cmd.encode() + b"\0")
        for d in sorted(set(deps[m.group(1)])):
            try:
                with open(os.path.join(e["directory"], d), "rb") as f:
                    h.update(d.encode() + b"\0" + f.read() + b"\0")
            except OSError:
                return None
        return h.hexdigest()

    def run(unit):
        rel, e = unit
        key = key_of(e)
        if use_cache and key and os.path.exists(os.path.join(cache, key)):
            return rel, True, "", True
        p = subprocess.run([tidy, "-p", build, "--quiet", os.path.join(src, rel)],
                           capture_output=True, text=True, cwd=src)
        out = p.stdout.strip()
        # a finding is a "file:line:col: warning|error: ... [check]" line
        clean = p.returncode == 0 and not re.search(r": (warning|error): ", out)
        if clean and key:
            open(os.path.join(cache, key), "w").close()
        if p.returncode != 0 and not out:
            out = p.stderr.strip()
        return rel, clean, out, False

    jobs = int(os.environ.get("CM_TIDY_JOBS") or os.cpu_count() or 1)
    print("1..%d" % len(units))
    failed = cached = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for i, (rel, clean, out, hit) in enumerate(ex.map(run, units), 1):
            cached += hit
            if clean:
                print("ok %d - %s%s" % (i, rel, " (cached)" if hit else ""))
            else:
                failed += 1
                print("not ok %d - %s: clang-tidy findings (fix them, or NOLINT(check) "
                      "with the reason)" % (i, rel))
                for line in out.splitlines():
                    print("# " + line.replace(src + "/", ""))
    print("# %d files, %d analysed, %d unchanged since a clean run, %d with findings"
          % (len(units), len(units) - cached, cached, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
