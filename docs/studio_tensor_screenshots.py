"""Make the README's screenshots of the tensor pages from a real run: docs/img/studio_tensor_*.png.

Run: .venv/bin/python docs/studio_tensor_screenshots.py [RUN_DIR]   (needs /usr/bin/chromium and playwright)

With RUN_DIR (a finished `ninjagrad train -o RUN_DIR`), its four diagnostic PNGs are copied beside them as
docs/img/train_*.png.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from ninjagrad.kata.exercises import get_exercise
from ninjagrad.kata.workbook import render_workbook
from ninjagrad.makemore.diagnostics import PLOT_FILES
from ninjagrad.studio import headless
from ninjagrad.studio.server import StudioServer

OUT = Path(__file__).parent / "img"
WRONG = "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)"
TRAIN_STEPS = 30_000


def wait(predicate, seconds=600.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="studio-tensor-"))
    workbook = folder / "atomic.py"  # a learner's workbook with one sign lost in dbnvar's line
    workbook.write_text(
        render_workbook(get_exercise("atomic"), solved=True).replace(WRONG, WRONG.replace("-0.5", "0.5"))
    )
    server = StudioServer(options={"kata": [str(workbook)], "root": str(folder)}).start()
    try:
        with sync_playwright() as p:
            browser = headless.launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(server.url + "#tensor")
            page.wait_for_selector("#tensor-graph-svg g.node")
            tensor = server.studio.session("tensor")
            wait(lambda: tensor.verdict is not None)

            # 1. The chain with the kata's marks; dlogits (the lecture's picture) selected, its answer shown.
            page.click('#tensor-graph-svg g.node[data-name="logits"]')
            page.click("#tensor-show-answer")
            wait(lambda: "dlogits =" in (page.text_content("#tensor-backward") or ""))
            page.click("#kata-first-wrong .kata-hint")
            page.wait_for_selector("#kata-first-wrong .hint-text")
            page.wait_for_timeout(300)
            page.evaluate("document.querySelector('.tensor-graph').style.maxHeight = 'none'")  # all of it
            page.screenshot(path=OUT / "studio_tensor_chain.png", full_page=True)

            # 2. The first wrong gradient selected: its line, shapes, heatmaps and the diagnosis.
            page.click('#tensor-graph-svg g.node[data-name="bnvar"]')
            wait(lambda: (page.text_content("#tensor-forward-line") or "").startswith("bnvar"))
            page.wait_for_timeout(300)
            page.locator(".tensor-right").screenshot(path=OUT / "studio_tensor_kata.png")

            # 3. The makemore MLP trained live at the lecture's config, TRAIN_STEPS steps.
            page.click("#tab-makemore")
            page.wait_for_selector("#mm-play", state="visible")
            session = server.studio.session("makemore")
            wait(lambda: (page.text_content("#mm-status") or "").startswith("step "))
            page.fill("#mm-steps", str(TRAIN_STEPS))
            page.fill("#mm-decay_step", str(TRAIN_STEPS // 2))
            page.click("#mm-apply")
            wait(lambda: session.run.config.steps == TRAIN_STEPS)
            page.click("#mm-play")
            wait(lambda: session.run.done)
            page.wait_for_timeout(500)
            page.screenshot(path=OUT / "studio_makemore.png", full_page=True)
            browser.close()
    finally:
        server.stop()
    if len(sys.argv) > 1:
        for name in PLOT_FILES:
            shutil.copyfile(Path(sys.argv[1]) / name, OUT / f"train_{name}")
    print(f"wrote the screenshots to {OUT}")


if __name__ == "__main__":
    main()
