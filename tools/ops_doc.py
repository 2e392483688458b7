#!/usr/bin/env python3
"""ops_doc.py - keeps docs/operations.md equal to `community ops --markdown`.

usage: ops_doc.py --check COMMUNITY DOC   exit 1 with a diff when DOC is stale
       ops_doc.py --write COMMUNITY DOC   regenerate DOC

Meson runs --check as the test `docs-current` and --write as the target
`ops-doc` (ninja -C build ops-doc).
"""
import difflib
import subprocess
import sys


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("--check", "--write"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, cli, doc = sys.argv[1:]
    new = subprocess.run([cli, "ops", "--markdown"], check=True, capture_output=True,
                         text=True).stdout
    if mode == "--write":
        with open(doc, "w", encoding="utf-8") as f:
            f.write(new)
        print("wrote %s" % doc)
        return 0
    try:
        with open(doc, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    if old == new:
        print("%s is current" % doc)
        return 0
    sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                               doc, "community ops --markdown"))
    print("\n%s is stale: regenerate it with `ninja -C <builddir> ops-doc`" % doc)
    return 1


if __name__ == "__main__":
    sys.exit(main())
