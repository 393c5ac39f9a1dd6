#!/usr/bin/env bash
# Create ./.venv with the course package and what it needs.
#   bash scripts/setup.sh        # to run the course
#   bash scripts/setup.sh dev    # also the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, so the CPU build is used: a bare `pip install torch` pulls a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q "torch>=2.1,<3"
fi
extras="text"
if [ "${1:-}" = "dev" ]; then extras="text,dev"; fi
.venv/bin/python -m pip install -q -e ".[${extras}]"
.venv/bin/python -c "import coursekit, torch; print('coursekit', coursekit.__version__, '| torch', torch.__version__)"
