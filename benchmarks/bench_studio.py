"""The studio's speed and memory, measured side by side (not a timed test; numbers vary ±25% on a busy box).

1. Training speed: steps/s of the studio's moons session (a real `ninjagrad studio` process, with a
   browser page drawing every update) against the loop `ninjagrad moons` runs (``train_moons``), same
   model MLP(2, [16, 16, 1]), alternated ROUNDS times. Goal: ratio >= 0.80.
2. Render time of one update in the page (performance.now() around the page's update). Goal: <= 16 ms.
3. Layout of one sample's loss graph (~100 nodes, hidden widths [6, 6]) by Graphviz in WebAssembly.
   Goal: <= 300 ms. The default [16, 16] network's graph (411 nodes) is reported too.
4. Memory over SOAK_STEPS training steps: the server's RSS and the page's JS heap (after a GC), at the
   start and the end. Goal: each grows by <= 20 MB.

Run: .venv/bin/python benchmarks/bench_studio.py [--rounds 3] [--seconds 8] [--soak-steps 10000]
Needs /usr/bin/chromium and the playwright package (the `test` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ninjagrad.scalar.moons import MoonsConfig, train_moons
from ninjagrad.studio import headless


class Studio:
    """A `ninjagrad studio --no-browser` process; ``command`` and ``state`` talk to its API."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ninjagrad", "studio", "--no-browser"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        self.url = line.removeprefix("ninjagrad studio at ")
        self.base, self.token = self.url.split("/?token=")

    def command(self, session: str, name: str, **args: object) -> dict:
        request = urllib.request.Request(
            f"{self.base}/api/{session}/{name}?token={self.token}",
            data=json.dumps(args).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def state(self, session: str) -> dict:
        with urllib.request.urlopen(f"{self.base}/api/{session}/state?token={self.token}") as response:
            return json.load(response)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (every thread: training, server, stream)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(2)  # Ctrl-C: the clean way out
        self.process.wait(timeout=15)


def cli_steps_per_second(steps: int) -> tuple[float, float]:
    """The loop `ninjagrad moons` runs: (steps per wall-clock second, steps per CPU second)."""
    start, cpu = time.perf_counter(), time.process_time()
    train_moons(MoonsConfig(steps=steps))
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def studio_steps_per_second(studio: Studio, seconds: float) -> tuple[float, float]:
    """The studio training while the page draws: (steps per wall-clock second, steps per CPU second).

    The CPU time is the whole server process's: training, snapshots, the HTTP server and the stream.
    """
    studio.command("moons", "reset")
    studio.command("moons", "play")
    time.sleep(1.0)  # warm up: the first snapshots, the page's first draws
    step0, t0, cpu0 = studio.state("moons")["step"], time.perf_counter(), studio.cpu_seconds()
    time.sleep(seconds)
    step1, t1, cpu1 = studio.state("moons")["step"], time.perf_counter(), studio.cpu_seconds()
    studio.command("moons", "pause")
    return (step1 - step0) / (t1 - t0), (step1 - step0) / (cpu1 - cpu0)


def js_heap_mb(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    return cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20


def layout_ms(page, studio: Studio, hidden: list[int], points: list[int]) -> list[float]:
    """Click each point; the page records how long Graphviz took to lay out its loss graph."""
    studio.command("moons", "configure", hidden=hidden)
    page.click("#tab-moons")
    page.wait_for_function(
        "w => document.querySelector('#moons-network-caption').textContent.includes(w)",
        arg=f"[{', '.join(map(str, [*hidden, 1]))}]",
    )
    times = []
    for index in points:
        before = page.evaluate("window.ninjagradStudio.layouts.length")
        page.click(f"#moons-points circle[data-index='{index}']", force=True)
        page.wait_for_function("n => window.ninjagradStudio.layouts.length > n", arg=before, timeout=60_000)
        layout = page.evaluate("window.ninjagradStudio.layouts.at(-1)")
        times.append((layout["nodes"], layout["milliseconds"]))
        page.click("#tab-moons")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="alternations of studio and CLI timing")
    parser.add_argument("--seconds", type=float, default=6.0, help="studio training time per round")
    parser.add_argument("--cli-steps", type=int, default=40, help="`ninjagrad moons` steps per round")
    parser.add_argument("--soak-steps", type=int, default=10_000, help="training steps for the memory check")
    parser.add_argument("--soak-hidden", default="4", help="hidden widths for the soak (small: many steps)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    if headless.missing():
        sys.exit(headless.missing())
    studio = Studio()
    try:
        with sync_playwright() as p:
            browser = headless.launch(p)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            cdp = page.context.new_cdp_session(page)
            page.goto(studio.url + "#moons")
            page.wait_for_selector("#moons-points circle")

            # 1. speed, alternated; 2. render times during the studio's rounds
            rows: dict[str, list[float]] = {k: [] for k in ("sw", "cw", "rw", "sc", "cc", "rc")}
            for _ in range(args.rounds):
                page.evaluate("window.ninjagradStudio.renders.moons = []")
                s_wall, s_cpu = studio_steps_per_second(studio, args.seconds)
                c_wall, c_cpu = cli_steps_per_second(args.cli_steps)
                values = (s_wall, c_wall, s_wall / c_wall, s_cpu, c_cpu, s_cpu / c_cpu)
                for key, value in zip(rows, values, strict=True):
                    rows[key].append(value)
            renders = page.evaluate("window.ninjagradStudio.renders.moons")
            print("MLP(2, [16, 16, 1]) moons, full batch, rounds alternated (studio first):")
            best = max(rows["sw"]) / max(rows["cw"])
            print(f"  best studio round / best CLI round (the least disturbed of each): {best:.2f}")
            for key, title, digits in (
                ("sw", "studio steps/s (wall)", 1),
                ("cw", "ninjagrad moons steps/s (wall)", 1),
                ("rw", "ratio, wall (goal >= 0.8)", 2),
                ("sc", "studio steps per CPU s", 1),
                ("cc", "ninjagrad moons steps per CPU s", 1),
                ("rc", "ratio, CPU (goal >= 0.8)", 2),
            ):
                print(f"  {title:32s} {' '.join(f'{v:6.{digits}f}' for v in rows[key])}")
            parts = page.evaluate("window.ninjagradStudio.moonsParts")
            print("  last update, ms by part: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))
            renders.sort()
            print(
                f"page update render ms over {len(renders)} updates (last round): median "
                f"{statistics.median(renders):.1f}, p95 {renders[int(0.95 * (len(renders) - 1))]:.1f}, "
                f"max {renders[-1]:.1f} (goal <= 16)"
            )

            # 3. layout of one sample's loss graph
            for hidden in ([6, 6], [16, 16]):
                times = layout_ms(page, studio, hidden, [3, 40, 77, 12, 55, 90])
                ms = sorted(t for _, t in times)
                print(
                    f"sample-loss graph layout, {hidden}: {times[0][0]} nodes, 6 points: min {ms[0]:.0f}, "
                    f"median {statistics.median(ms):.0f}, max {ms[-1]:.0f} ms (goal <= 300 for ~100 nodes)"
                )

            # 4. memory over a long run, with the page drawing every update
            hidden = [int(w) for w in args.soak_hidden.split(",")]
            studio.command("moons", "configure", hidden=hidden, lr=0.1)
            page.click("#tab-moons")
            time.sleep(1.0)
            rss0, heap0 = studio.rss_mb(), js_heap_mb(cdp)
            start = time.perf_counter()
            studio.command("moons", "play")
            while studio.state("moons")["step"] < args.soak_steps:
                time.sleep(1.0)
            studio.command("moons", "pause")
            elapsed = time.perf_counter() - start
            time.sleep(1.0)
            steps = studio.state("moons")["step"]
            rss1, heap1 = studio.rss_mb(), js_heap_mb(cdp)
            model = f"MLP(2, [{', '.join(map(str, hidden))}, 1])"
            print(f"soak: {steps} steps of {model} in {elapsed:.0f} s (goal: each <= +20 MB)")
            print(f"  server RSS   {rss0:.1f} -> {rss1:.1f} MB ({rss1 - rss0:+.1f})")
            print(f"  page JS heap {heap0:.1f} -> {heap1:.1f} MB ({heap1 - heap0:+.1f})")
            browser.close()
    finally:
        studio.stop()


if __name__ == "__main__":
    main()
