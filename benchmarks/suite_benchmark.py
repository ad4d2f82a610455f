"""How long `make test` takes, phase by phase (lint, format check, type check, the pytest suite).

Runs each phase as `make test` does, once, and prints its wall time; `make benchmark` runs it.
Warm figures (a venv, a mypy cache) are what a developer sees; CI starts cold.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHASES = {
    "ruff check": [str(BIN / "ruff"), "check", "."],
    "ruff format --check": [str(BIN / "ruff"), "format", "--check", "."],
    "mypy": [str(BIN / "mypy")],
    "pytest (-n auto)": [str(BIN / "pytest"), "-q", "-n", "auto", "--dist", "loadgroup", "-p", "no:cacheprovider"],
}


def main() -> int:
    total = 0.0
    for label, argv in PHASES.items():
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        total += seconds
        tail = done.stdout.strip().splitlines()[-1:] or [""]
        print(f"  {label:20s} {seconds:6.1f} s   {tail[0][:70]}")
        if done.returncode != 0:
            print(f"{label} failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
    print(f"  {'total':20s} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
