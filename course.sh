#!/usr/bin/env bash
# The course's two commands, on a fresh Linux or macOS machine with Python 3.10+:
#   ./course.sh lab    set up .venv and open the course in JupyterLab
#   ./course.sh test   set up the same .venv and run the whole test suite
#   ./course.sh book   set up the same .venv and build the course's website into _build/html
#                      (from the notebooks' stored outputs, executing nothing)
# PYTHON=python3.12 ./course.sh ... picks the interpreter; extra arguments go to jupyter lab / pytest /
# python -m tools.book.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV=.venv

setup() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found. Install Python 3.10 or newer, or run with PYTHON=/path/to/python3." >&2
    exit 2
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: $("$PYTHON" --version 2>&1) is too old; the course needs Python 3.10 or newer (set PYTHON=...)." >&2
    exit 2
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo ">> creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
  fi
  # Skip the install when nothing changed since the last successful one.
  local stamp="$VENV/.course-installed"
  local want
  want="$(cat pyproject.toml requirements/constraints.txt | cksum)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo ">> installing the course and its pinned dependencies (first time: a few minutes, ~5 GB for torch)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[lab,test,book]"
    echo "$want" > "$stamp"
  fi
}

case "${1:-}" in
  lab)
    shift
    setup
    # the launch settings (first lesson, no news pop-up, --allow-root as root) live in tools/lab.py,
    # shared with the browser tests
    exec "$VENV/bin/python" tools/lab.py "$@"
    ;;
  test)
    shift
    setup
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  book)
    shift
    setup
    exec "$VENV/bin/python" -m tools.book "$@"
    ;;
  *)
    echo "usage: ./course.sh lab | test | book [args]" >&2
    exit 2
    ;;
esac
