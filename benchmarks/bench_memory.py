"""Peak memory of tracking a large pair, as a multiple of the memory of its two input images.

Each case runs in a fresh process that measures its resident set before the inputs exist and its peak
(``VmHWM``) after tracking. Run: ``python benchmarks/bench_memory.py [--rows 6000 --cols 4000]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASE = r"""
import json, sys, time
import numpy as np

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

from tracking import track_arrays
from tracking.pipeline import track
from tracking.scenes import Pair, make_scene
from affine import Affine

small = np.random.default_rng(0).normal(size=(160, 160)).astype(np.float32)
track_arrays(small, small, search_range=8)  # load the compiled kernels
rows, cols, how = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
base = status("VmRSS")
rng = np.random.default_rng(1)
reference = rng.standard_normal((rows, cols), dtype=np.float32)
secondary = np.roll(reference, (3, -5), axis=(0, 1))
secondary += 0.1 * rng.standard_normal((rows, cols), dtype=np.float32)
inputs = reference.nbytes + secondary.nbytes
start = time.perf_counter()
if how == "track_arrays":
    track_arrays(reference, secondary)
else:
    transform = Affine(15.0, 0, 500000.0, 0, -15.0, 7700000.0)
    ref = make_scene(reference, transform=transform, crs=32622, time="2021-05-01", sensor="test", band="pan")
    sec = make_scene(secondary, transform=transform, crs=32622, time="2021-05-17", sensor="test", band="pan")
    del reference, secondary
    track(Pair.from_scenes(ref, sec))
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"inputs": inputs, "peak_over_base": peak - base, "seconds": seconds}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--cols", type=int, default=4000)
    args = parser.parse_args()
    print(f"pair: {args.rows} x {args.cols} float32, default parameters (chip 32, search 20, step 16)")
    for how in ("track_arrays", "track"):
        out = subprocess.check_output(
            [sys.executable, "-c", CASE, str(args.rows), str(args.cols), how], text=True
        )
        result = json.loads(out.strip().splitlines()[-1])
        ratio = result["peak_over_base"] / result["inputs"]
        print(
            f"{how:<13} inputs {result['inputs'] / 2**20:6.0f} MiB, peak above the process's base "
            f"{result['peak_over_base'] / 2**20:6.0f} MiB = {ratio:.2f} x the inputs (inputs included), "
            f"{result['seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
