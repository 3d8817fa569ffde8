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
# two workers, one thread each (two torch processes sharing threads slow each other many times over);
# a file's tests stay on one worker, so its module fixtures are built once
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=15 -n "${MEMAUDIT_TEST_WORKERS:-2}" --dist loadfile "$@"
