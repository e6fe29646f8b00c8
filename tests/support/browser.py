"""Headless Chromium from Debian (`/usr/bin/chromium`) driven by Playwright, for the tests of the
orchestrators' forms; Playwright cannot download its own browser here. Without the browser a test
skips, unless SYNTH_REQUIRE_BROWSER=1 (set by .ci/run, which installs it) makes that a failure.
Screenshots go to SYNTH_TEST_ARTIFACTS (default: the test's temporary folder)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SYNTH_CHROMIUM", "/usr/bin/chromium"))
# as root in a container: no sandbox; and no calls home, which this closed network refuses
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def browser_or_skip():
    """Playwright's `sync_playwright`, or a skip (a failure under SYNTH_REQUIRE_BROWSER=1) naming what is missing."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing, sync_playwright = "the playwright package is not installed", None
    if missing is None and not CHROMIUM.is_file():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if missing:
        if os.environ.get("SYNTH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {missing}")
        pytest.skip(missing)
    return sync_playwright


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SYNTH_TEST_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
