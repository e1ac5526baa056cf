"""Make docs/anatomy.png, the README's picture: the demo's HTML anatomy as headless Chromium draws it.

    make screenshot        # or: .venv/bin/python docs/make_screenshot.py

Runs the demo on the embedded simulator (no API key), writes its page, has Debian's ``chromium`` take a
screenshot, and keeps the top of it: the comparison, then the naive run's flow and waterfall.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from agent_anatomy.demo import run_demo

WIDTH, HEIGHT, KEEP = 1400, 2400, 1900
OUTPUT = Path(__file__).parent / "anatomy.png"


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("make_screenshot: chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "demo.html"
        run_demo(html_path=str(page), color=False, out=io.StringIO())
        shot = Path(scratch) / "shot.png"
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--user-data-dir={Path(scratch) / 'profile'}",
            f"--screenshot={shot}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        Image.open(shot).crop((0, 0, WIDTH, KEEP)).save(OUTPUT, optimize=True)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
