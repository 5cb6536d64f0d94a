#!/usr/bin/env python3
"""Runs the Oils project's shell spec tests (github.com/oils-for-unix/oils, spec/*.test.sh)
through bash and dockerbox, and prints `N passed, M failed` over the cases bash passes.

Usage: tests/oils-spec.py OILS_CHECKOUT [DOCKERBOX] [-v] [-k SUBSTRING] [FILE...]

Measured at oils commit 15de8fd77 (see TESTING.md for the counts). No spec file is kept in this
repository: pass the path of a checkout (`git clone https://github.com/oils-for-unix/oils`).

A case passes for a shell when its stdout and exit status are what the file expects of bash
(the case's own `## stdout`/`## STDOUT`/`## status`, or its `OK`/`BUG`/`N-I bash` lines), as
Oils' test/sh_spec.py checks them. Each case runs in a fresh temporary directory with `-c`, the
spec's helpers (spec/bin) on PATH and $SH naming the shell, and gets 10 seconds. Cases run on
as many threads as there are CPUs; bash's answers are kept in $TMPDIR/oils-spec-bash-cache.json
and asked again for a case dockerbox does not match.
"""

import concurrent.futures
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

# The POSIX-relevant files (plus the bash idioms the issue lists).
FILES = """
smoke comments quote word-split word-eval whitespace var-sub var-sub-quote var-op-test
var-op-strip var-op-len var-op-patsub var-op-slice var-num vars-special arith command-sub
here-doc if_ loop case_ sh-func subshell pipeline redirect redirect-multi exit-status errexit
builtin-echo builtin-printf builtin-bracket builtin-read builtin-set builtin-eval-source
builtin-vars builtin-special builtin-trap tilde assign background posix shell-grammar
command_ command-parsing glob alias brace-expansion dbracket dparen process-sub
builtin-getopts builtin-type builtin-cd empty-bodies
""".split()

KEY_VALUE = re.compile(
    r"^##\s+(?:(OK(?:-\d)?|BUG(?:-\d)?|N-I)\s+([\w+/]+)\s+)?([\w\-]+):\s*(.*)$")


def parse(path):
    """The cases of one spec file: dicts with name, code, and expectations per shell."""
    cases = []
    case = None
    lines = open(path, encoding="utf-8", errors="surrogateescape").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("####"):
            case = {"name": line[4:].strip(), "code": [], "default": {}, "bash": {}}
            cases.append(case)
            continue
        if case is None:
            continue
        m = KEY_VALUE.match(line)
        if m:
            qual, shells, name, value = m.groups()
            if name in ("STDOUT", "STDERR"):
                body = []
                while i < len(lines) and not re.match(r"^##\s+END", lines[i]):
                    if not lines[i].lstrip().startswith("#") or lines[i].startswith("##"):
                        body.append(lines[i] + "\n")
                    i += 1
                i += 1
                name, value = name.lower(), "".join(body)
            elif name in ("stdout", "stderr"):
                value += "\n"
            elif name.endswith("-json"):
                name, value = name[:-5], json.loads(value)
            targets = [case["default"]] if qual is None else (
                [case["bash"]] if "bash" in shells.split("/") else [])
            for t in targets:
                t[name] = value
            continue
        if line.startswith("##"):
            continue
        if line.lstrip().startswith("#"):
            continue
        case["code"].append(line + "\n")
    return cases


def expected(case):
    e = dict(case["default"])
    e.update(case["bash"])
    return e.get("stdout"), int(e.get("status", 0))


def python2_dir():
    """A directory holding `python2`, which spec/bin's helpers (argv.py...) name in their `#!`
    line: $PYTHON2, a python2 on PATH that runs, or pyenv's 2.7. Without one, bash fails every
    case that uses them and they are not counted."""
    found = [os.environ.get("PYTHON2", "")]
    found += [os.path.join(d, "python2") for d in os.environ.get("PATH", "").split(":") if d]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.*/bin/python2")))
    for exe in found:
        if exe and os.access(exe, os.X_OK) and subprocess.run(
                [exe, "-c", "pass"], capture_output=True).returncode == 0:
            link_dir = tempfile.mkdtemp(prefix="oils-spec-python2-")
            os.symlink(os.path.realpath(exe), os.path.join(link_dir, "python2"))
            return link_dir
    print("no python2: cases using spec/bin's helpers are not counted", file=sys.stderr)
    return None


PYTHON2_DIR = None


def run(shell, code, spec_dir):
    with tempfile.TemporaryDirectory(prefix="oils-spec-") as tmp:
        path = [os.path.join(spec_dir, "bin")] + ([PYTHON2_DIR] if PYTHON2_DIR else [])
        env = {
            "PATH": ":".join(path) + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": tmp, "TMP": tmp, "SH": shell, "LC_ALL": "C.UTF-8", "TZ": "UTC",
            "REPO_ROOT": os.path.dirname(spec_dir),
        }
        try:
            p = subprocess.run([shell, "-c", code], cwd=tmp, env=env, capture_output=True,
                               timeout=10, stdin=subprocess.DEVNULL)
            # Each run has a directory of its own: its name is not the shell's doing.
            out = p.stdout.decode("utf-8", "surrogateescape").replace(tmp, "$TMP")
            return out, p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            return None, "timeout", b""


def bash_cache():
    """bash's answers, kept between runs (they depend only on the code and the bash binary)."""
    path = os.path.join(tempfile.gettempdir(), "oils-spec-bash-cache.json")
    try:
        return path, json.load(open(path))
    except (OSError, ValueError):
        return path, {}


def main(argv):
    args = [a for a in argv if not a.startswith("-")]
    verbose = "-v" in argv
    only = None
    if "-k" in argv:
        only = argv[argv.index("-k") + 1]
        args.remove(only)
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    checkout = args[0]
    dockerbox = os.path.abspath(args[1]) if len(args) > 1 else os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", "target", "debug", "dockerbox"))
    files = args[2:] or FILES
    spec_dir = os.path.join(checkout, "spec")
    cache_path, cache = bash_cache()
    global PYTHON2_DIR
    PYTHON2_DIR = python2_dir()

    def judge(case):
        """None when bash itself fails the case, else (passed, report)."""
        code = "".join(case["code"])
        want_out, want_status = expected(case)
        key = hashlib.sha256(code.encode("utf-8", "surrogateescape")).hexdigest()
        fresh = key not in cache
        if fresh:
            cache[key] = run("bash", code, spec_dir)[:2]
        out, status = cache[key]
        if (want_out is not None and out != want_out) or status != want_status:
            return None
        out2, status2, err2 = run(dockerbox, code, spec_dir)
        if not fresh and (out2 != out or status2 != status):
            # bash's remembered answer may hold a date or a PID: ask it again.
            out, status = cache[key] = run("bash", code, spec_dir)[:2]
            if (want_out is not None and out != want_out) or status != want_status:
                return None
        if out2 == out and status2 == status:
            return True, ""
        return False, (f"{code}bash: {out!r} {status}\ndbx:  {out2!r} {status2}\n"
                       f"stderr: {err2.decode('utf-8', 'replace')[:400]}")

    total_pass = total_fail = skipped = 0
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for f in files:
            path = os.path.join(spec_dir, f + ".test.sh")
            if not os.path.exists(path):
                print(f"{f}: missing", file=sys.stderr)
                continue
            cases = [c for c in parse(path) if not only or only in c["name"]]
            npass = nfail = 0
            for case, result in zip(cases, pool.map(judge, cases)):
                if result is None:
                    skipped += 1
                elif result[0]:
                    npass += 1
                else:
                    nfail += 1
                    if verbose:
                        print(f"--- FAIL {f}: {case['name']}\n{result[1]}")
            total_pass += npass
            total_fail += nfail
            print(f"{f}: {npass} passed, {nfail} failed")
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(cache_path), delete=False,
                                     prefix=".oils-spec-bash-cache.") as out:
        json.dump(cache, out)
    os.replace(out.name, cache_path)
    if PYTHON2_DIR:
        os.unlink(os.path.join(PYTHON2_DIR, "python2"))
        os.rmdir(PYTHON2_DIR)
    n = total_pass + total_fail
    pct = 100 * total_pass // n if n else 0
    print(f"{total_pass} passed, {total_fail} failed ({pct}%) over the {n} cases bash passes"
          f" ({skipped} it does not)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
