#!/usr/bin/env bash
# Set up .venv with the test extras, check the house style and the import contracts, run the tests.
# Extra arguments go to pytest (e.g. -m "not slow" skips the tests that train a model).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/setup_eicar.sh
bash scripts/setup_cehrgpt.sh
.venv/bin/ruff format --check src tests benchmarks examples
.venv/bin/ruff check src tests benchmarks examples
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=15 "$@"
