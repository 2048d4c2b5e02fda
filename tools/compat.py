"""``make compat``: prove the supported Keras/TensorFlow range instead of stating it.

The range is read from ``pyproject.toml`` (``keras>=A,<B`` and ``tensorflow-cpu>=C,<D``), so that the claim
and its proof cannot drift. Two virtual environments are made under ``.compat/`` (git-ignored): ``oldest``
with the lowest supported minor releases (``keras~=A.0``, ``tensorflow-cpu~=C.0``: their latest patches)
and ``newest`` with the newest releases inside the range. In each, dnn-instrument is installed (editable)
with its test dependencies, ``runtime/compat.py``'s check runs, then the equivalence programs (the rewritten
loop trains as ``fit``: same weights, same History) and the end-to-end diagnosis tests.

    python tools/compat.py [oldest|newest ...] [-- PYTEST ARGS]
"""

import os
import re
import subprocess
import sys
import venv

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = ["tests/test_equivalence.py", "tests/test_diagnosis.py"]
TEST_DEPENDENCIES = ["pytest>=8", "scikit-learn>=1.3", "jsonschema>=4", "hypothesis>=6.100"]


def supported():
    """``{package: (low, high)}`` of keras and tensorflow-cpu, as ``pyproject.toml`` states them."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    found = {}
    for spec in dependencies:
        match = re.fullmatch(r"(keras|tensorflow-cpu)\s*>=\s*([\d.]+)\s*,\s*<\s*([\d.]+)", spec.strip())
        if match:
            found[match.group(1)] = (match.group(2), match.group(3))
    if set(found) != {"keras", "tensorflow-cpu"}:
        raise SystemExit("pyproject.toml: expected keras>=A,<B and tensorflow-cpu>=C,<D among the dependencies")
    return found


def pairs():
    ranges = supported()
    return {
        "oldest": [f"{package}~={low}.0" if low.count(".") == 1 else f"{package}=={low}" for package, (low, _) in ranges.items()],
        "newest": [f"{package}>={low},<{high}" for package, (low, high) in ranges.items()],
    }


def prepare(name, requirements):
    folder = os.path.join(ROOT, ".compat", name)
    python = os.path.join(folder, "bin", "python")
    stamp = os.path.join(folder, ".installed")
    wanted = "\n".join(requirements)
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return python
    if not os.path.exists(python):
        venv.create(folder, with_pip=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-e", ROOT, *requirements, *TEST_DEPENDENCIES], check=True)
    with open(stamp, "w") as f:
        f.write(wanted)
    return python


def check(name, python, pytest_args):
    versions = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print('keras', m.version('keras'), '+ tensorflow', m.version('tensorflow-cpu'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"== {name}: {versions}", flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    verified = subprocess.run([python, "-c", "from dnn_instrument.runtime import compat; compat.check_versions(); print('compat.check_versions: ok')"], env=env)
    if verified.returncode:
        return False
    return subprocess.run([python, "-m", "pytest", "-q", *TESTS, *pytest_args], cwd=ROOT, env=env).returncode == 0


def main(argv):
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    names = (argv[: argv.index("--")] if "--" in argv else argv) or ["oldest", "newest"]
    wanted = pairs()
    unknown = [name for name in names if name not in wanted]
    if unknown:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    results = {}
    for name in names:
        print(f"== {name}: {' '.join(wanted[name])}", flush=True)
        results[name] = check(name, prepare(name, wanted[name]), pytest_args)
    for name, ok in results.items():
        print(f"{name}: {'passed' if ok else 'FAILED'}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
