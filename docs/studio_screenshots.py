"""Make the README's studio screenshots from a real run: docs/img/studio_*.png.

Run: .venv/bin/python docs/studio_screenshots.py   (needs /usr/bin/chromium and playwright)
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from ninjagrad.studio import headless
from ninjagrad.studio.server import StudioServer

OUT = Path(__file__).parent / "img"


def main() -> None:
    server = StudioServer().start()
    try:
        with sync_playwright() as p:
            browser = headless.launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(server.url)
            page.wait_for_selector("#expr-graph svg")

            # 1. The lecture's neuron, stepped backward four rules: the fourth rule highlighted.
            for k in range(1, 5):
                page.click("#expr-step")
                page.wait_for_function(
                    "k => document.querySelector('#stepper-progress').textContent.startsWith(k + ' of')",
                    arg=k,
                )
            page.wait_for_timeout(500)
            page.screenshot(path=OUT / "studio_expression.png", full_page=True)

            # 2. The moons MLP trained live to 100% accuracy.
            page.click("#tab-moons")
            page.click("#moons-reset")
            page.click("#moons-play")
            page.wait_for_function(
                "() => Number(document.querySelector('#moons-step').textContent) >= 120", timeout=300_000
            )
            page.click("#moons-play")
            page.wait_for_function("() => document.querySelector('#moons-running').textContent === 'paused'")
            page.wait_for_timeout(500)
            page.screenshot(path=OUT / "studio_moons.png", full_page=True)

            # 3. One point's loss graph, on a small network so the whole graph fits.
            page.fill("#moons-widths", "3")
            page.click("#moons-apply")
            page.wait_for_function(
                "() => document.querySelector('#moons-network-caption').textContent.includes('[3, 1]')"
            )
            for _ in range(20):
                page.click("#moons-one-step")
            page.wait_for_function("() => document.querySelector('#moons-step').textContent === '20'")
            page.click("#moons-points circle[data-index='8']", force=True)
            page.wait_for_function(
                "() => document.querySelector('#expr-title').textContent === 'loss of point 8'"
            )
            page.click("#expr-backward-all")
            page.wait_for_function(
                "() => document.querySelector('#stepper-progress').textContent.includes('done')"
            )
            page.wait_for_timeout(800)
            page.screenshot(path=OUT / "studio_point_graph.png", full_page=True)
            browser.close()
    finally:
        server.stop()
    for name in ("studio_expression", "studio_moons", "studio_point_graph"):
        print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
