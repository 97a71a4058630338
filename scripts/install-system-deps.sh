#!/usr/bin/env bash
# Installs what the tests need outside Python when it is missing: the PostgreSQL server
# (Debian) and the EVM test tools (anvil and solc, pinned in tools/evm/package-lock.json, from
# the npm registry). Idempotent: a machine that has them is left alone in a moment.
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

install_evm_tools() {
  local dir="$ROOT/tools/evm"
  if [ -x "$dir/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" ] \
    && [ -f "$dir/node_modules/solc/package.json" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "npm is missing; run: sudo apt-get install -y nodejs npm" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

install_postgres
install_evm_tools
