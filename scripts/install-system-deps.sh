#!/usr/bin/env bash
# Installs what the tests need outside Python when it is missing: the PostgreSQL server
# (Debian), the EVM test tools (anvil and solc, pinned in tools/evm/package-lock.json, from
# the npm registry), and for the browser tests Debian's Chromium, the Noto CJK fonts (Chinese
# pages render as text, not boxes, in screenshots) and axe-core (tools/browser). Idempotent: a
# machine that has them is left alone in a moment.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

install_postgres() {
  if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server is missing; run: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages; run: sudo apt-get install -y $*" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

install_npm() {
  command -v npm >/dev/null || apt_install nodejs npm
}

install_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
  local dir="$ROOT/tools/browser"
  if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ]; then
    install_npm
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

install_evm_tools() {
  local dir="$ROOT/tools/evm"
  if [ -x "$dir/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" ] \
    && [ -f "$dir/node_modules/solc/package.json" ]; then
    return 0
  fi
  install_npm
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

install_postgres
install_evm_tools
install_browser
