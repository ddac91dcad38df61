"""numbaconv at the working tree against numbaconv at another git revision, timed interleaved in one process.

The revision's `numbaconv/` and `kernels/` are exported with `git archive` into a temporary folder as a package
named `numbaconv_at_rev` (its absolute `numbaconv` imports renamed), so both versions compile and run side by side;
each benchmark case of `python -m numbaconv bench` is built by each version's own registry and timed in alternating
rounds (best of `--repeat`), so machine drift hits both alike. Prints per case and per family the time ratio
(working tree / revision; above 1 means the working tree is slower) and each family's geometric mean.

    python scripts/bench_against_revision.py cdc0c95 [--repeat 5] [--threads 2] [--only resnet,pool]
"""

from __future__ import annotations

import argparse
import importlib
import io
import math
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile


def export(rev: str, root: pathlib.Path) -> pathlib.Path:
    """`rev`'s package as <tmp>/numbaconv_at_rev (kernels/ as its subpackage `kernels`)."""
    repo = pathlib.Path(__file__).resolve().parent.parent
    data = subprocess.run(
        ["git", "archive", rev, "numbaconv", "kernels"], cwd=repo, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(root, filter="data")
    pkg = root / "numbaconv_at_rev"
    (root / "numbaconv").rename(pkg)
    (root / "kernels").rename(pkg / "kernels")
    for path in pkg.rglob("*.py"):
        text = re.sub(r"\bimport numbaconv\b", "import numbaconv_at_rev", path.read_text())
        text = re.sub(r"\bfrom numbaconv([. ])", r"from numbaconv_at_rev\1", text)
        path.write_text(text)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=None, help="comma-separated substrings of case names")
    args = parser.parse_args()

    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    from numbaconv import bench as new

    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(export(args.rev, pathlib.Path(tmp))))
        old = importlib.import_module("numbaconv_at_rev.bench")
        names = [
            n for n in new.CASES if n in old.CASES and (not args.only or any(o in n for o in args.only.split(",")))
        ]
        families: dict[str, list[float]] = {}
        print(f"{'case':<38} {'tree':>9} {args.rev[:9]:>9} {'ratio':>7}")
        for name in names:
            fns = {"tree": new.CASES[name].make()["numbaconv"], "rev": old.CASES[name].make()["numbaconv"]}
            for fn in fns.values():
                fn()
            times = {k: float("inf") for k in fns}
            for _ in range(args.repeat):
                for k, fn in fns.items():
                    times[k] = min(times[k], new.best_time(fn, 1))
            ratio = times["tree"] / times["rev"]
            families.setdefault(new.CASES[name].family, []).append(ratio)
            print(f"{name:<38} {times['tree'] * 1e3:>7.2f}ms {times['rev'] * 1e3:>7.2f}ms {ratio:>7.2f}", flush=True)
    print("\ngeometric mean of tree / revision per family:")
    for family, ratios in families.items():
        print(f"  {family:<12} {math.exp(sum(map(math.log, ratios)) / len(ratios)):.3f} over {len(ratios)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
