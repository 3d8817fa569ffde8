#!/usr/bin/env bash
# Create .venv-eicar with MEDS_EIC_AR 0.5.1 (its own environment: it pins polars 1.x, memaudit
# uses 2.x). The tests train a MEDS_EIC_AR model with its own CLIs and audit it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-eicar/bin/MEICAR_pretrain ]; then
  python3 -m venv .venv-eicar
  .venv-eicar/bin/python -m pip install -q --upgrade pip
  .venv-eicar/bin/python -m pip install -q "torch==2.13.0"
  .venv-eicar/bin/python -m pip install -q "meds-eic-ar==0.5.1"
fi
