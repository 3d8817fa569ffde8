#!/usr/bin/env bash
# Create .venv-cehrgpt with CEHR-GPT 0.1.9 (cehrgpt, cehrbert 1.4.9, cehrbert_data 0.1.1) in its own
# environment: cehrbert pins torch 2.4 (a CUDA build) and transformers 4.44, memaudit needs newer.
# A plain `pip install cehrgpt` cannot keep the CPU torch, so: torch first, the three packages
# without their pins, then what they import, with torch held by a constraint and without
# tensorflow, wandb and xgboost (training and generation do not import them).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-cehrgpt/bin/meds_reader_convert ]; then
  rm -rf .venv-cehrgpt
  python3 -m venv .venv-cehrgpt
  pip=(.venv-cehrgpt/bin/python -m pip install -q)
  "${pip[@]}" --upgrade pip
  "${pip[@]}" "torch==2.13.0"
  echo "torch==2.13.0" > .venv-cehrgpt/constraints.txt
  "${pip[@]}" --no-deps "cehrgpt==0.1.9" "cehrbert==1.4.9" "cehrbert_data==0.1.1"
  "${pip[@]}" -c .venv-cehrgpt/constraints.txt \
    "transformers==4.44.1" "tokenizers==0.19.0" "peft==0.10.0" "accelerate>=0.31,<1.2" \
    "datasets>=2.16.1,<=3.6.0" "evaluate==0.4.1" "dask[dataframe]==2024.1.1" "fast-ml==3.68" \
    "femr>=0.2.0,<=0.2.4" "meds==0.3.3" "meds_reader==0.1.9" "scikit-learn==1.4.0" "scipy==1.12.0" \
    "pyspark==3.1.2" "lifelines==0.30.0" "optuna==4.0.0" "openai==1.54.3" "polars" "networkx>=3.2.1" \
    "python-dateutil==2.8.2" "PyYAML==6.0.1" "Jinja2==3.1.3" "Werkzeug==3.0.1" "Pillow>=10.3" \
    "lightgbm" "tqdm>=4.66.1" "safetensors"
  "${pip[@]}" -c .venv-cehrgpt/constraints.txt "pyarrow==19.0.1" "pandas==2.2.3" "numpy==1.26.4"
fi
