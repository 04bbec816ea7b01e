#!/usr/bin/env bash
# Install the front-end packages from the npm registry (exact versions from package-lock.json)
# and copy what the pages use into static/vendor/, which Flask serves. Run by setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

out=static/vendor
stamp="$out/.installed-$(sha256sum package-lock.json scripts/vendor.sh | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0

npm ci --no-audit --no-fund --loglevel=error
rm -rf "$out"
mkdir -p "$out/noto-sans-kr/files" "$out/chart.js" "$out/axe-core"

# Noto Sans KR (SIL OFL 1.1), regular and bold, split by unicode-range: a page downloads only the
# pieces its text needs. Only the woff2 files are copied; every browser that records audio reads woff2.
font=node_modules/@fontsource/noto-sans-kr
cp "$font/400.css" "$font/700.css" "$font/LICENSE" "$out/noto-sans-kr/"
cp "$font"/files/noto-sans-kr-*-400-normal.woff2 "$font"/files/noto-sans-kr-*-700-normal.woff2 "$out/noto-sans-kr/files/"

# Chart.js (MIT), the UMD build: one script, no bundler.
cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md "$out/chart.js/"

# axe-core (MPL-2.0): the accessibility checker the browser tests inject (tests/browser.py); no page loads it.
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE "$out/axe-core/"

touch "$stamp"
