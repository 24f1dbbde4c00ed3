"""The tensor pages' speed goals (issue 10), measured in a real browser against the real server.

    .venv/bin/python benchmarks/bench_studio_tensor.py [--steps 200000] [--repeats 3]

Prints, each with its goal:

- graph layout: the page's time to build the chain's SVG from the graph JSON (goal <= 300 ms);
- heatmaps after a click: click -> the node's line, heatmaps and stats drawn (goal <= 50 ms);
- live training: the studio's steps/s (browser connected, snapshots streamed and drawn) against
  ``ninjagrad train``'s SGD loop (``makemore.train.train``, what the command runs, diagnostics included) at
  the lecture config, TRAIN_STEPS steps each, measured alternately ``--repeats`` times (goal >= 70%);
- memory over ``--steps`` steps of live training: the server process's RSS and the page's JS heap, after
  a warm-up of 5% of the steps and at the end (goal <= +30 MB each);
- kata view: a save of the 26-gradient workbook -> the page's marks updated (goal <= 1 s).

Needs Playwright and /usr/bin/chromium. The machine's load moves every number: run it on a quiet machine,
and compare ratios measured side by side rather than absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ninjagrad.studio import headless

WRONG = "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)"
PLANTED = WRONG.replace("-0.5", "0.5")
TRAIN_STEPS = 20_000  # per measurement of steps/s


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def heap_mb(page) -> float:
    client = page.context.new_cdp_session(page)
    client.send("HeapProfiler.collectGarbage")
    used = client.send("Runtime.getHeapUsage")["usedSize"]
    client.detach()
    return used / 2**20


def wait(predicate, seconds=300.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit("timed out")


def cli_us_per_step(data) -> float:
    from ninjagrad.makemore.train import TrainConfig, train

    result = train(TrainConfig(steps=TRAIN_STEPS, save_every=10**9), data, num_samples=1)
    return result.us_per_step


def studio_us_per_step(page, session) -> float:
    """Play a fresh run at the lecture's config (200,000 steps, so diagnostics every 1,000 and val every
    4,000 steps, as a user's run has them) and time TRAIN_STEPS of its steps, after a first 2,000."""
    page.fill("#mm-steps", "200000")
    page.fill("#mm-decay_step", "100000")
    page.click("#mm-apply")
    wait(lambda: session.run.step == 0 and session.run.config.steps == 200_000 and not session.playing)
    page.click("#mm-play")
    wait(lambda: session.run.step >= 2000)
    first, started = session.run.step, time.perf_counter()
    wait(lambda: session.run.step >= first + TRAIN_STEPS)
    seconds, steps = time.perf_counter() - started, session.run.step - first
    page.click("#mm-play")  # pause
    wait(lambda: not session.playing)
    return 1e6 * seconds / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000, help="steps of the memory run")
    parser.add_argument("--repeats", type=int, default=3, help="alternate measurements of steps/s")
    args = parser.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipped: playwright is not installed")
        return 0
    if headless.missing():
        print(f"skipped: {headless.missing()}")
        return 0
    from ninjagrad.kata.exercises import get_exercise
    from ninjagrad.kata.workbook import render_workbook
    from ninjagrad.makemore.data import load_dataset
    from ninjagrad.studio.server import StudioServer

    folder = Path(tempfile.mkdtemp(prefix="bench-studio-tensor-"))
    workbook = folder / "atomic.py"
    workbook.write_text(render_workbook(get_exercise("atomic"), solved=True).replace(WRONG, PLANTED))
    server = StudioServer(options={"kata": [str(workbook)], "root": str(folder)}).start()
    data = load_dataset()
    with sync_playwright() as p:
        browser = headless.launch(p, "--enable-precise-memory-info")
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url + "#tensor")
        page.wait_for_selector("#tensor-graph-svg g.node", timeout=60_000)
        tensor = server.studio.session("tensor")

        # graph layout: the page builds the SVG again on each reload
        layouts = []
        for _ in range(5):  # each page load lays the graph out once
            page.reload()
            page.wait_for_selector("#tensor-graph-svg g.node", timeout=60_000)
            layouts += page.evaluate("window.ninjagradStudio.tensor.layouts")
        print(
            f"graph layout: median {statistics.median(layouts):.1f} ms, max {max(layouts):.1f} ms "
            f"over {len(layouts)} page loads (goal <= 300 ms)"
        )

        # heatmaps after a click: every node twice (the second click of a node is served from its cache)
        names = [n["name"] for n in tensor.graph["nodes"]]
        for name in names * 2:
            page.click(f'#tensor-graph-svg g.node[data-name="{name}"]')
            wait(lambda name=name: page.text_content("#tensor-node-title").startswith(name + " "))
        clicks = page.evaluate("window.ninjagradStudio.tensor.clicks")
        print(
            f"click -> heatmaps drawn: median {statistics.median(clicks):.1f} ms, 90th percentile "
            f"{sorted(clicks)[int(0.9 * len(clicks))]:.1f} ms, max {max(clicks):.1f} ms over {len(clicks)} "
            "clicks (goal <= 50 ms)"
        )

        # kata view: save -> marks
        wait(lambda: tensor.verdict is not None and tensor.checks >= 1)
        delays = []
        text = workbook.read_text()
        for i in range(6):
            before = page.evaluate("window.ninjagradStudio.tensor.marks.length")
            checks = tensor.checks
            text = text.replace(PLANTED, WRONG) if i % 2 == 0 else text.replace(WRONG, PLANTED)
            saved = time.time()
            workbook.write_text(text)
            marks = wait(
                lambda checks=checks, before=before: [
                    m
                    for m in page.evaluate("window.ninjagradStudio.tensor.marks")[before:]
                    if m["checks"] > checks
                ]
            )
            delays.append(marks[0]["drawn_at"] - saved)
        print(
            f"kata save -> marks drawn: median {statistics.median(delays):.2f} s, max {max(delays):.2f} s "
            f"over {len(delays)} saves (goal <= 1 s)"
        )

        # live training against ninjagrad train, alternately
        page.click("#tab-makemore")
        page.wait_for_selector("#mm-play", state="visible")
        session = server.studio.session("makemore")
        wait(lambda: (page.text_content("#mm-status") or "").startswith("step "))
        ratios = []
        for _ in range(args.repeats):
            cli = cli_us_per_step(data)
            studio = studio_us_per_step(page, session)
            ratios.append(cli / studio)
            print(
                f"  ninjagrad train {1e6 / cli:,.0f} steps/s, studio {1e6 / studio:,.0f} steps/s: "
                f"{100 * cli / studio:.0f}%"
            )
        print(
            f"live training: studio at {100 * min(ratios):.0f}-{100 * max(ratios):.0f}% of ninjagrad train's "
            f"steps/s over {args.repeats} alternate runs of {TRAIN_STEPS:,} steps (goal >= 70%)"
        )

        # memory over a long run
        page.fill("#mm-steps", str(args.steps))
        page.fill("#mm-decay_step", str(args.steps // 2))
        page.click("#mm-apply")
        wait(lambda: session.run.config.steps == args.steps and session.run.step == 0)
        page.click("#mm-play")
        wait(lambda: session.run.step >= args.steps // 20, seconds=3600)
        rss0, heap0 = rss_mb(), heap_mb(page)
        started = time.perf_counter()
        wait(lambda: session.run.done, seconds=36_000)
        seconds = time.perf_counter() - started
        time.sleep(1)
        rss1, heap1 = rss_mb(), heap_mb(page)
        print(
            f"memory over {args.steps:,} steps ({seconds:.0f} s): server RSS {rss0:.1f} -> {rss1:.1f} MB "
            f"({rss1 - rss0:+.1f}), page JS heap {heap0:.1f} -> {heap1:.1f} MB ({heap1 - heap0:+.1f}) "
            "(goal <= +30 MB each)"
        )
        print(f"  final loss: {page.text_content('#mm-status')}")
        browser.close()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
