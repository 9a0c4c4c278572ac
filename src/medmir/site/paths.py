"""Where the web app lives in this checkout (the Python package runs its Node scripts and ships its build)."""

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parents[3] / "web"
WEB_DIST = WEB_DIR / "dist"  # `npm --prefix web run build`
