"""Debian's Chromium, as the browser tests and bench/screens.py launch it (no downloads)."""

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
