"""Open the ninjagrad studio: a local web app that shows backprop live, in the browser.

Step through backward one gradient rule at a time on an expression you type (or the lecture's), and
watch the moons MLP learn. It serves on 127.0.0.1 only; the printed URL carries the session's token,
without which every request is refused. Works offline. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse

HELP = "open the studio: step through backward and watch the moons MLP learn, live in the browser"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    parser.add_argument(
        "-i", "--input", metavar="FILE", help="data for the makemore page (default: the bundled names)"
    )
    parser.add_argument(
        "--kata",
        metavar="FILE",
        action="append",
        default=[],
        help="a kata workbook to check beside the graph",
    )


def run(args: argparse.Namespace) -> int:
    import webbrowser

    from ninjagrad.studio.server import StudioServer
    from ninjagrad.studio.tensor_kata import AllowedFiles

    AllowedFiles.start(args.kata)  # a missing --kata file is an error now, not in the page later
    if args.input is not None:
        from ninjagrad.makemore.data import read_items

        read_items(args.input)  # an unreadable -i FILE too
    server = StudioServer(port=args.port, options={"input": args.input, "kata": args.kata})
    page = "#tensor" if args.kata else ""
    print(f"ninjagrad studio at {server.url}{page}", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url + page)
    try:
        server.run()  # until Ctrl-C: uvicorn shuts down cleanly, then re-raises the interrupt
    except KeyboardInterrupt:
        pass
    return 0
