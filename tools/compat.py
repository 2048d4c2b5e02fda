"""``make compat``: prove the supported Keras/TensorFlow range instead of stating it.

The range is read from ``pyproject.toml`` (``keras>=A,<B`` and ``tensorflow-cpu>=C,<D``), so that the claim
and its proof cannot drift. Two virtual environments are made under ``.compat/`` (git-ignored): ``oldest``
with the lowest supported minor releases (``keras~=A.0``, ``tensorflow-cpu~=C.0``: their latest patches)
and ``newest`` with the newest releases inside the range. In each, dnn-instrument is installed (editable, from
this checkout) with its test dependencies, ``runtime/compat.py``'s check runs, then the equivalence programs
(the rewritten loop trains as ``fit``: same weights, same History) and the end-to-end diagnosis tests, the
pairs' tests side by side (each pair's pytest output in ``.compat/NAME/pytest.log``). The summary gives, per
pair, the versions installed, the tests passed and failed, and the time taken.

A candidate outside the range is tried with ``--pair NAME=REQUIREMENT,REQUIREMENT`` (for example
``--pair tf2.16=tensorflow-cpu~=2.16.0,keras==3.10.0``): its venv is ``.compat/NAME`` and the runtime's range
check is lifted there (``DNN_INSTRUMENT_ANY_VERSION=1``; the Keras internals are still checked), so that the
tests say whether the loop is faithful on it.

    python tools/compat.py [oldest|newest|NAME ...] [--pair NAME=REQ,REQ ...] [-- PYTEST ARGS]
"""

import os
import re
import subprocess
import sys
import time
import venv
import xml.etree.ElementTree as ElementTree

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = ["tests/test_equivalence.py", "tests/test_diagnosis.py"]
TEST_DEPENDENCIES = ["pytest>=8", "scikit-learn>=1.3", "jsonschema>=4", "hypothesis>=6.100"]
USAGE = __doc__.strip().splitlines()[-1].strip()


def dependencies():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def supported():
    """``{package: (low, high)}`` of keras and tensorflow-cpu, as ``pyproject.toml`` states them."""
    found = {}
    for spec in dependencies():
        match = re.fullmatch(r"(keras|tensorflow-cpu)\s*>=\s*([\d.]+)\s*,\s*<\s*([\d.]+)", spec.strip())
        if match:
            found[match.group(1)] = (match.group(2), match.group(3))
    if set(found) != {"keras", "tensorflow-cpu"}:
        raise SystemExit("pyproject.toml: expected keras>=A,<B and tensorflow-cpu>=C,<D among the dependencies")
    return found


def pairs():
    ranges = supported()
    return {
        "oldest": [
            f"{package}~={low}.0" if low.count(".") == 1 else f"{package}=={low}"
            for package, (low, _) in ranges.items()
        ],
        "newest": [f"{package}>={low},<{high}" for package, (low, high) in ranges.items()],
    }


def prepare(name, requirements, extra=False):
    """The venv's python, with ``requirements`` and this checkout (editable) installed. The stamp records both,
    so that a venv made for other versions or moved from another checkout is brought up to date. A candidate
    (``extra``) lies outside the range pyproject.toml states: the project goes in without its dependencies, and
    its other dependencies beside the candidate's Keras and TensorFlow."""
    folder = os.path.join(ROOT, ".compat", name)
    python = os.path.join(folder, "bin", "python")
    stamp = os.path.join(folder, ".installed")
    wanted = "\n".join([f"-e {ROOT}", *requirements])
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return python
    if not os.path.exists(python):
        venv.create(folder, with_pip=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    if extra:
        others = [spec for spec in dependencies() if not re.match(r"(keras|tensorflow-cpu)\b", spec.strip())]
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", *requirements, *others, *TEST_DEPENDENCIES], check=True
        )
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ROOT], check=True)
    else:
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "-e", ROOT, *requirements, *TEST_DEPENDENCIES], check=True
        )
    with open(stamp, "w") as f:
        f.write(wanted)
    return python


def installed(python):
    """``keras X + tensorflow-cpu Y`` as installed in the venv of ``python``."""
    return subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m; print('keras', m.version('keras'), '+ tensorflow-cpu', m.version('tensorflow-cpu'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def counts(junit):
    """``(passed, failed, skipped, failed test ids)`` from pytest's JUnit XML."""
    passed = failed = skipped = 0
    failures = []
    for case in ElementTree.parse(junit).iter("testcase"):
        outcome = {child.tag for child in case}
        if outcome & {"failure", "error"}:
            failed += 1
            failures.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}")
        elif "skipped" in outcome:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failures


def environment(extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if extra:
        env["DNN_INSTRUMENT_ANY_VERSION"] = "1"
    return env


def start(name, python, pytest_args, extra=False):
    """Check the pair's versions with the runtime's own check, then start its tests (output in
    ``.compat/NAME/pytest.log``); ``(versions, running pytest or None when refused, start time)``."""
    versions = installed(python)
    env = environment(extra)
    verified = subprocess.run(
        [python, "-c", "from dnn_instrument.runtime import compat; compat.check_versions()"],
        env=env,
        capture_output=True,
        text=True,
    )  # TensorFlow's start-up lines shown on failure only
    if verified.returncode:
        print(verified.stderr, file=sys.stderr)
        return versions, None, time.monotonic()
    folder = os.path.join(ROOT, ".compat", name)
    junit = os.path.join(folder, "junit.xml")
    if os.path.exists(junit):
        os.remove(junit)
    log = open(os.path.join(folder, "pytest.log"), "w")
    candidate = " (a candidate: the range check lifted)" if extra else ""
    print(
        f"== {name}: {versions}{candidate}: compat.check_versions ok; {' '.join(TESTS)} running, output in .compat/{name}/pytest.log",
        flush=True,
    )
    running = subprocess.Popen(
        [python, "-m", "pytest", "-q", f"--junitxml={junit}", *TESTS, *pytest_args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return versions, running, time.monotonic()


def finish(name, versions, running, started):
    """Wait for the pair's tests; its summary line and whether it passed."""
    if running is None:
        return f"{name}: {versions}: refused by runtime/compat.py's check (above)", False
    status = running.wait()
    minutes = (time.monotonic() - started) / 60
    junit = os.path.join(ROOT, ".compat", name, "junit.xml")
    if not os.path.exists(junit):
        return f"{name}: {versions}: pytest did not run (exit status {status}; .compat/{name}/pytest.log)", False
    passed, failed, skipped, failures = counts(junit)
    line = (
        f"{name}: {versions}: {passed} passed, {failed} failed"
        + (f", {skipped} skipped" if skipped else "")
        + f" ({minutes:.0f} min)"
    )
    line += "".join(f"\n    FAILED {test}" for test in failures)
    return line, status == 0 and failed == 0


def parse(argv):
    """``(names, {name: requirements}, extra names, pytest args)``, or a usage error."""
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    wanted, extra, names = pairs(), set(), []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--pair" or argument.startswith("--pair="):
            value = argument.partition("=")[2] if argument.startswith("--pair=") else next(arguments, "")
            name, _, requirements = value.partition("=")
            if not re.fullmatch(r"[\w.-]+", name) or name in wanted or not requirements:
                raise SystemExit(
                    f"--pair NAME=REQUIREMENT,REQUIREMENT (NAME not oldest or newest); got {value!r}\n{USAGE}"
                )
            wanted[name] = requirements.split(",")
            extra.add(name)
            names.append(name)
        elif argument in wanted:
            names.append(argument)
        else:
            raise SystemExit(f"unknown pair {argument!r}\n{USAGE}")
    return names or ["oldest", "newest"], wanted, extra, pytest_args


def main(argv):
    try:
        names, wanted, extra, pytest_args = parse(argv)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    pythons = {}
    for name in names:  # installs one after the other, then every pair's tests at once
        print(f"== {name}: {' '.join(wanted[name])}", flush=True)
        pythons[name] = prepare(name, wanted[name], extra=name in extra)
    running = {name: start(name, pythons[name], pytest_args, extra=name in extra) for name in names}
    results = {name: finish(name, *running[name]) for name in names}
    print("\n== make compat: " + ("every pair passed" if all(ok for _, ok in results.values()) else "FAILED"))
    for line, ok in results.values():
        print(("   " if ok else " ! ") + line)
    return 0 if all(ok for _, ok in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
