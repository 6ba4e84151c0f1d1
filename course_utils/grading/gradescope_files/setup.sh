#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu, with network).
# It installs the course's grader, from this bundle's own files, with the course's pinned CPU
# dependencies. Written by `python -m course_utils.grading.gradescope`; running it again is harmless.
#
#   1. apt: bubblewrap (the sandbox each notebook's kernel runs in) and Python's venv module;
#   2. a Python 3.10 or newer, and a virtual environment at $AUTOGRADER_ROOT/course-venv;
#   3. torch's CPU build (no CUDA libraries: about a tenth of the download) from the PyTorch CPU
#      wheel index, at the versions constraints.txt pins;
#   4. the course's wheel and every other dependency at the versions constraints.txt pins, then
#      `pip check`;
#   5. the CIFAR-10 mini file (lessons that train on it) verified, matplotlib's font list built,
#      and the isolation this image gives printed.
#
# Settings (for a mirror or a test): COURSE_TORCH_INDEX (the CPU index), COURSE_PYTHON,
# COURSE_VENV, AUTOGRADER_ROOT, COURSE_SKIP_APT=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"          # /autograder/source: the unpacked zip
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="${COURSE_VENV:-$ROOT/course-venv}"
TORCH_INDEX="${COURSE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
say() { echo "setup.sh: $*"; }

apt_install() {
  if [ "${COURSE_SKIP_APT:-0}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "${COURSE_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing bubblewrap and python3-venv with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
  apt_install bubblewrap || say "WARNING: bubblewrap could not be installed: kernels will be less isolated"
  apt_install python3-venv python3-pip || true
fi

PYTHON=""
for candidate in ${COURSE_PYTHON:-} python3.13 python3.12 python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    PYTHON="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$PYTHON" ] && apt_install python3.11 python3.11-venv; then
  PYTHON="$(command -v python3.11)"
fi
if [ -z "$PYTHON" ]; then
  echo "setup.sh: ERROR: the course needs Python 3.10 or newer and this image has none; choose an" \
       "Ubuntu 22.04 (or newer) base image in the assignment's autograder settings." >&2
  exit 1
fi
version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with Python $version"
  "$PYTHON" -m venv "$VENV" || { apt_install "python$version-venv" && "$PYTHON" -m venv "$VENV"; }
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

pin() {   # the version constraints.txt pins for package $1 (lines without an environment marker)
  sed -n "s/^$1==\([^ ;]*\) *\$/\1/p" "$HERE/constraints.txt"
}
TORCH="$(pin torch)"
TORCHVISION="$(pin torchvision)"
if [ -z "$TORCH" ] || [ -z "$TORCHVISION" ]; then
  echo "setup.sh: ERROR: constraints.txt pins no torch or torchvision version" >&2
  exit 1
fi
say "installing torch $TORCH and torchvision $TORCHVISION, CPU builds, from $TORCH_INDEX"
"${PIP[@]}" install --quiet --no-deps --index-url "$TORCH_INDEX" "torch==$TORCH" "torchvision==$TORCHVISION"
WHEELS=("$HERE"/course_utils-*.whl)
say "installing ${WHEELS[0]##*/} with the pins of constraints.txt"
"${PIP[@]}" install --quiet -c "$HERE/constraints.txt" "${WHEELS[0]}"
"${PIP[@]}" check

if [ -f "$HERE/grader_secret" ]; then
  chmod 600 "$HERE/grader_secret"   # root's alone: the kernel runs as another uid, or in a sandbox without it
fi
# Where the container refuses bubblewrap's namespaces, the kernel runs as a fresh unprivileged uid: it must
# reach the virtual environment (read-only), and nothing else of root's that matters.
chmod o+x "$ROOT" && chmod -R go+rX,go-w "$VENV"
if [ -f "$HERE/cifar10_mini.npz" ]; then
  say "verifying the CIFAR-10 mini file"
  "$VENV/bin/python" -I -c 'import sys; from course_utils import data; data.read_mini(sys.argv[1])' "$HERE/cifar10_mini.npz"
  chmod o+x "$HERE" && chmod o+r "$HERE/cifar10_mini.npz"   # a kernel with a uid of its own reads it
fi
# matplotlib's font list, built once here rather than by every graded kernel; and the grader imports
MPLBACKEND=Agg "$VENV/bin/python" -I -c 'import matplotlib.pyplot, course_utils.grading.grader, course_utils.checks'
"$VENV/bin/python" -I -m course_utils.grading.sandbox || true   # says which isolation this image gives
say "done"
