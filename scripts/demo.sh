#!/usr/bin/env bash
# Set up and run the demo audit on the bundled synthetic cohort and the built-in model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/memaudit demo --out "${1:-demo_run}"
