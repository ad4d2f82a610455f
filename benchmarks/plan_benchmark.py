"""How long one offline plan of the prod stack takes: the program run, the policy pack, the pictures.

Prints the figure the README quotes; run with `make benchmark`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.diagram import render
from offline.harness import run_stack
from offline.policy_check import evaluate

RUNS = 5


def main() -> None:
    run_stack("prod")  # warm-up: imports and the first mock monitor
    program, policies, pictures, total = [], [], [], []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(RUNS):
            start = time.perf_counter()
            run = run_stack("prod")
            after_program = time.perf_counter()
            evaluate(run)
            after_policies = time.perf_counter()
            render(run, Path(out))
            end = time.perf_counter()
            program.append(after_program - start)
            policies.append(after_policies - after_program)
            pictures.append(end - after_policies)
            total.append(end - start)
    resources = sum(1 for r in run.resources if r.custom)
    print(f"prod offline plan, {resources} resources, {RUNS} runs (median / max seconds):")
    for label, values in (("program", program), ("policies", policies), ("pictures", pictures), ("total", total)):
        print(f"  {label:9s} {statistics.median(values):7.3f} / {max(values):7.3f}")


if __name__ == "__main__":
    main()
