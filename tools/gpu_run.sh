#!/usr/bin/env bash
# On a lent GPU machine (no network): install the course from this checkout, then run its GPU checks.
#   bash tools/gpu_run.sh [--steps env,benchmark,comparison,lessons,reference]
# Writes to $OUT (the device tool's output folder) or /tmp/gpu-out. See tools/gpu_run.py.
# What the machine lacks (nbclient, ipykernel, ... for Python 3.12) travels as wheels in .whl/:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 --platform any -d .whl -r <the course's notebook-running pins>
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "installing the carried wheels failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# The course itself, from its own files (no dependencies: the machine's torch, torchvision, numpy, matplotlib).
if ! python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1; then
  echo "pip install -e . failed (see install.log); using the checkout on PYTHONPATH instead" >&2
  export PYTHONPATH="$PWD:$PYTHONPATH"
fi
python3 -c "import course_utils, nbclient, ipykernel; print('course_utils from', course_utils.__file__)" || exit 1
python3 -m tools.gpu_run --out "$OUT" "$@"
