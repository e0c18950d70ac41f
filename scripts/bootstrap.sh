#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: install, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npm run build
bash scripts/demo.sh
