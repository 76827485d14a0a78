"""scripts/bench still runs and prints its figures (a smoke run: no figure is judged here; see README Performance)."""

import re
import shutil
import subprocess

import pytest

from harness import ROOT, require

pytestmark = pytest.mark.integration


def test_the_benchmark_runs_and_prints_its_summary():
    require(bool(shutil.which("wrk")), "the benchmark needs wrk (Debian: apt-get install wrk)")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "bench"), "--quick", "--seconds", "1", "--flows", "500"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for setup in ("plain", "floor", "emulation", "passive", "default"):
        assert re.search(rf"^{setup}\s+\d+", done.stdout, re.M), done.stdout
    assert re.search(r"^bench summary: CPU/request of the default options: [\d.]+x the floor, [\d.]+x plain "
                     r"mitmdump \(floor [\d.]+x plain\); emulation [\d.]+x, passive [\d.]+x the floor; memory "
                     r"[+-][\d.]+ MB per 100k flows; forward\+inspect [\d.]+ us worst; \d/3 targets met$",
                     done.stdout, re.M), done.stdout
