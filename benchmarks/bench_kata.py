"""The time of `ninjagrad kata check` on the 26-gradient atomic workbook (issue 11's goal: <= 1.5 s).

Three workbooks, each built from the exercise's solved one: solved (every row right), three mistakes, and
one with a mistake planted in every gradient's lines (a sign flipped, a factor dropped, an exponent or an
axis changed...: 26 rows wrong, each diagnosed). Each is checked RUNS times by a fresh CLI process, wall
time as `/usr/bin/time -f %e` measures it; the median and the max are printed, with the goal met or missed
on the max. With ``--old SRC`` (another tree's ``src``, e.g. a worktree of main), the same runs are made
with that code too, alternated with this tree's, and shown side by side (a tree of main, say:
``git archive main src | tar -x -C /tmp/old`` gives /tmp/old/src).

Run: .venv/bin/python benchmarks/bench_kata.py [--runs 5] [--old /path/to/other/src] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.5  # seconds per check, issue 11
SRC = Path(__file__).resolve().parent.parent / "src"
# the venv's console script, as a learner runs it; PYTHONPATH picks the tree it runs
SCRIPT = Path(sys.executable).with_name("ninjagrad")
NINJAGRAD = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "ninjagrad"]

# (line of the solved workbook, the line with the mistake): one per gradient, in backward order
PLANTED = [
    ("dlogprobs[np.arange(n), Yb] = -1.0 / n", "dlogprobs[np.arange(n), Yb] = 1.0 / n"),
    ("dprobs = dlogprobs / probs", "dprobs = -dlogprobs / probs"),
    (
        "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)",
        "dcounts_sum_inv = dprobs.sum(1, keepdims=True)",
    ),
    (
        "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)",
        "dcounts_sum = dcounts_sum_inv * counts_sum**-2",
    ),
    (
        "dcounts += np.broadcast_to(dcounts_sum, counts.shape)",
        "dcounts -= np.broadcast_to(dcounts_sum, counts.shape)",
    ),
    ("dnorm_logits = dcounts * counts", "dnorm_logits = dcounts"),
    (
        "dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)",
        "dlogit_maxes = dnorm_logits.sum(1, keepdims=True)",
    ),
    (
        "dlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes",
        "dlogits -= np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes",
    ),
    ("dh = dlogits @ W2.T", "dh = -dlogits @ W2.T"),
    ("dW2 = h.T @ dlogits", "dW2 = 2 * h.T @ dlogits"),
    ("db2 = dlogits.sum(0)", "db2 = -dlogits.sum(0)"),
    ("dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - hpreact**2)"),
    (
        "dbngain = (dhpreact * bnraw).sum(0, keepdims=True)",
        "dbngain = (dhpreact * bnraw).sum(1, keepdims=True)",
    ),
    ("dbnbias = dhpreact.sum(0, keepdims=True)", "dbnbias = -dhpreact.sum(0, keepdims=True)"),
    ("dbnraw = dhpreact * bngain", "dbnraw = dhpreact"),
    ("dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True)", "dbnvar_inv = (dbnraw * bndiff).sum(0)"),
    (
        "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)",
        "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -0.5)",
    ),
    (
        "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
        "dbndiff2 = np.broadcast_to(dbnvar * (1 / n), bndiff2.shape).copy()",
    ),
    ("dbndiff += dbndiff2 * (2 * bndiff**1)", "dbndiff += dbndiff2 * bndiff**2"),
    ("dbnmeani = (-dbndiff).sum(0, keepdims=True)", "dbnmeani = dbndiff.sum(0, keepdims=True)"),
    (
        "dhprebn += np.broadcast_to(dbnmeani * (1 / n), hprebn.shape)",
        "dhprebn += np.broadcast_to(dbnmeani, hprebn.shape)",
    ),
    ("dembcat = dhprebn @ W1.T", "dembcat = -dhprebn @ W1.T"),
    ("dW1 = embcat.T @ dhprebn", "dW1 = 0.5 * embcat.T @ dhprebn"),
    ("db1 = dhprebn.sum(0)", "db1 = -dhprebn.sum(0)"),
    ("demb = dembcat.reshape(emb.shape)", "demb = -dembcat.reshape(emb.shape)"),
    ("np.add.at(dC, Xb, demb)", "dC[Xb] += demb"),
]
THREE = [PLANTED[1], PLANTED[11], PLANTED[18]]  # dprobs, dhpreact, dbndiff


def build(directory: Path) -> dict[str, Path]:
    """The three workbooks in ``directory``, by label."""
    solved = directory / "solved.py"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ninjagrad",
            "kata",
            "new",
            "atomic",
            "--solved",
            "--force",
            "-o",
            str(solved),
        ],
        check=True,
        capture_output=True,
        env=_env(SRC),
    )
    text = solved.read_text()
    paths = {"solved": solved}
    for label, planted in (("three mistakes", THREE), (f"{len(PLANTED)} mistakes", PLANTED)):
        changed = text
        for old, new in planted:
            if changed.count(old + "\n") != 1:
                raise SystemExit(f"the solved workbook has no single line {old!r}: update PLANTED")
            changed = changed.replace(old + "\n", new + "\n")
        path = directory / (label.replace(" ", "_") + ".py")
        path.write_text(changed)
        paths[label] = path
    return paths


def _env(src: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(src))


def check_once(path: Path, src: Path) -> tuple[float, int, str]:
    """One `ninjagrad kata check` in a fresh process: (wall seconds, exit code, the report's summary)."""
    command = [*NINJAGRAD, "kata", "check", str(path)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=_env(src))
    seconds = time.perf_counter() - start
    summary = next((line for line in done.stdout.splitlines() if " of 26 gradients right" in line), "")
    return seconds, done.returncode, summary.split(";")[0]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", type=Path, help="another tree's src directory, measured alternately")
    parser.add_argument("--keep", type=Path, help="write the workbooks here (else a temporary directory)")
    args = parser.parse_args(argv)
    trees = {"new": SRC} | ({"old": args.old.resolve()} if args.old else {})
    with tempfile.TemporaryDirectory() as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        workbooks = build(directory)
        load = os.getloadavg()[0]
        print(f"{args.runs} runs per workbook and tree, load {load:.2f} at the start; goal {GOAL} s (max)")
        header = f"{'workbook':<16} {'tree':<4} {'median':>7} {'max':>7}  goal  exit  report"
        print(header)
        print("-" * len(header))
        for label, path in workbooks.items():
            times: dict[str, list[float]] = {tree: [] for tree in trees}
            seen: dict[str, tuple[int, str]] = {}
            for _ in range(args.runs):
                for tree, src in trees.items():  # alternated, so both see the same load
                    seconds, code, summary = check_once(path, src)
                    times[tree].append(seconds)
                    seen[tree] = (code, summary)
            for tree in trees:
                worst = max(times[tree])
                code, summary = seen[tree]
                verdict = "met" if worst <= GOAL else "MISSED"
                print(
                    f"{label:<16} {tree:<4} {statistics.median(times[tree]):7.2f} {worst:7.2f}  "
                    f"{verdict:<5} {code:>4}  {summary}"
                )
        print(f"load {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
