"""How long the offline plan of prod takes, against the floor every Pulumi Python program pays.

The floor is importing the pulumi-aws (and pulumi-random) classes the program declares, in a
fresh interpreter; the plan is `python -m offline.plan prod` in a fresh interpreter, as a user
runs it, with and without pictures. Both are measured in this run and their ratio printed, with
the in-process phases (program, policies, pictures) of a warm run. `make benchmark` runs it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from offline.diagram import render  # noqa: E402
from offline.harness import run_stack  # noqa: E402
from offline.policy_check import evaluate  # noqa: E402

RUNS = 3


def _classes(types: set[str]) -> list[str]:
    """`pulumi_aws.ec2.Vpc` for `aws:ec2/vpc:Vpc`: what importing the program's classes means."""
    paths = []
    for token in sorted(types):
        package, module_path, cls = token.split(":")
        module = module_path.split("/")[0]
        if package == "pulumi" and module == "providers":
            paths.append(f"pulumi_{cls}.Provider")
        elif module == "index":
            paths.append(f"pulumi_{package}.{cls}")
        else:
            paths.append(f"pulumi_{package}.{module + '_' if module == 'lambda' else module}.{cls}")
    return paths


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    run = run_stack("prod")  # warm-up, and the resource types the floor imports
    classes = _classes({r.type for r in run.resources if r.custom})
    floor_script = (
        "import importlib\nfor p in %r:\n    m, _, c = p.rpartition('.'); getattr(importlib.import_module(m), c)\n"
    )
    with tempfile.TemporaryDirectory() as out:
        floor = [_wall([sys.executable, "-c", floor_script % classes]) for _ in range(RUNS)]
        plan = [_wall([sys.executable, "-m", "offline.plan", "prod", "--out", out]) for _ in range(RUNS)]
        with_png = [_wall([sys.executable, "-m", "offline.plan", "prod", "--png", "--out", out]) for _ in range(RUNS)]
        program, policies, pictures = [], [], []
        for _ in range(RUNS):
            start = time.perf_counter()
            run = run_stack("prod", fresh=True)
            mark = time.perf_counter()
            evaluate(run)
            mark2 = time.perf_counter()
            render(run, Path(out), png=True)
            program.append(mark - start)
            policies.append(mark2 - mark)
            pictures.append(time.perf_counter() - mark2)
    resources = sum(1 for r in run.resources if r.custom)
    floor_s, plan_s = statistics.median(floor), statistics.median(plan)
    print(f"prod: {resources} resources of {len(classes)} classes, median of {RUNS} runs")
    print(f"  import floor (fresh interpreter)     {floor_s:6.2f} s")
    print(f"  `python -m offline.plan prod`        {plan_s:6.2f} s   ratio {plan_s / floor_s:4.2f} x the floor")
    png_s = statistics.median(with_png)
    print(f"  `python -m offline.plan prod --png`  {png_s:6.2f} s   ratio {png_s / floor_s:4.2f} x the floor")
    print("  in-process, warm:")
    for label, values in (("program", program), ("policies", policies), ("pictures (svg+png)", pictures)):
        print(f"    {label:18s} {statistics.median(values):6.3f} s")


if __name__ == "__main__":
    main()
