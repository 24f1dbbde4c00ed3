"""The studio's page ships built inside the package; it must be the build of the sources beside it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ninjagrad.studio.server import STATIC, TOKEN_PLACEHOLDER

WEB = STATIC.parent / "web"
ROOT = Path(__file__).resolve().parents[1]


def source_files() -> list[str]:
    """The same list build.mjs hashes: everything under src/, the package files, the build script."""
    files = [p.relative_to(WEB).as_posix() for p in (WEB / "src").rglob("*") if p.is_file()]
    return sorted([*files, "package.json", "package-lock.json", "build.mjs"])


def sources_hash(files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update((WEB / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def test_shipped_page_is_built_from_the_current_sources():
    build = json.loads((STATIC / "build.json").read_text())
    files = source_files()
    assert build["files"] == files, "the page's source files changed: run `make web` and commit static/"
    assert build["sources_sha256"] == sources_hash(files), (
        "static/ is older than web/ (its recorded sources hash differs): run `make web`, commit static/"
    )


def test_built_page_has_what_the_server_serves():
    index = (STATIC / "index.html").read_text()
    assert TOKEN_PLACEHOLDER in index
    for name in ("app.js", "app.css"):
        assert (STATIC / name).stat().st_size > 0
        assert f"static/{name}?token={TOKEN_PLACEHOLDER}" in index
    assert "http://" not in index and "https://" not in index  # nothing loads from the internet


def test_lock_file_pins_every_package_and_the_wheel_ships_the_page():
    lock = json.loads((WEB / "package-lock.json").read_text())
    package = json.loads((WEB / "package.json").read_text())
    for name in {**package["dependencies"], **package["devDependencies"]}:
        assert (
            lock["packages"][f"node_modules/{name}"]["version"]
            == {
                **package["dependencies"],
                **package["devDependencies"],
            }[name]
        )
    package_data = next(
        line
        for line in (ROOT / "pyproject.toml").read_text().splitlines()
        if line.startswith("ninjagrad = [")
    )
    assert '"studio/static/*"' in package_data
