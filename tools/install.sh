#!/usr/bin/env bash
# One-command install of cankd and its pinned OpenMMLab stack into the active
# Python environment (use a virtualenv). See docs/get_started.md.
#
#   bash tools/install.sh            # CPU torch 2.13.0 (or the torch already installed)
#   TORCH_VERSION=2.4.1 TORCH_INDEX_URL=https://download.pytorch.org/whl/cu121 bash tools/install.sh
#
# Order matters: torch first (an unpinned torch requirement pulls a multi-GB CUDA
# build), then mmcv built with ops against that torch, then everything else with
# torch held fixed by a constraint (mmcv's ops are bound to the torch they were
# built with).
set -euo pipefail

PYTHON=${PYTHON:-python}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pip=("$PYTHON" -m pip)

say() { printf '\n[cankd install] %s\n' "$*"; }

# A prebuilt mmcv wheel next to the checkout (../shared/wheels) saves a ~15 min build (measured on 2 cores).
for d in "$repo/../shared/wheels" "${CANKD_WHEELS:-}"; do
  if [ -n "$d" ] && [ -d "$d" ]; then
    d=$(cd "$d" && pwd)
    export PIP_FIND_LINKS="${PIP_FIND_LINKS:+$PIP_FIND_LINKS }$d"
    say "using local wheels in $d"
  fi
done

installed_torch() {
  "$PYTHON" - <<'PY' 2>/dev/null || true
import importlib.metadata as m
try:
    print(m.version("torch"))
except m.PackageNotFoundError:
    pass
PY
}

torch_now=$(installed_torch)
if [ -z "$torch_now" ]; then
  say "installing torch==$TORCH_VERSION"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "${pip[@]}" install "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL"
  else
    "${pip[@]}" install "torch==$TORCH_VERSION"
  fi
  torch_now=$(installed_torch)
else
  say "keeping the installed torch $torch_now"
fi
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
echo "torch==$torch_now" > "$constraints"
export PIP_CONSTRAINT="$constraints"

say "build tools for mmcv"
"${pip[@]}" install -r "$repo/requirements/build.txt"

if "$PYTHON" -c "import mmcv.ops" >/dev/null 2>&1 \
   && [ "$("$PYTHON" -c 'import mmcv; print(mmcv.__version__)')" = "2.1.0" ]; then
  say "mmcv 2.1.0 with ops already works, keeping it"
else
  say "installing mmcv 2.1.0 with compiled ops (a local wheel if one is found, else a ~15 min source build on 2 cores)"
  MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} "${pip[@]}" install --no-build-isolation -r "$repo/requirements/mmcv.txt"
fi

say "installing the OpenMMLab stack and test tools"
"${pip[@]}" install -r "$repo/requirements.txt"

say "installing cankd (editable)"
"${pip[@]}" install --no-build-isolation --no-deps -e "$repo"

say "checking the install"
"$PYTHON" - <<PY
import sys
import torch
if torch.__version__ != "$torch_now":
    sys.exit(f"torch changed during the install: {torch.__version__} != $torch_now")
try:
    import mmcv.ops  # noqa: F401
except Exception as exc:  # undefined symbol -> mmcv built against another torch
    sys.exit(
        "mmcv.ops does not import: " + str(exc) + "\n"
        "mmcv's compiled ops must be built against the installed torch "
        f"({torch.__version__}). Rebuild: pip uninstall -y mmcv && "
        "MMCV_WITH_OPS=1 pip install --no-build-isolation --no-binary mmcv mmcv==2.1.0")
import mmcv, mmdet, mmengine, mmseg, cankd  # noqa: E401,F401
try:
    import mmrazor  # noqa: F401
    print("warning: mmrazor is installed; cankd does not need it and it does not import on torch >= 2")
except Exception:
    pass
print(f"cankd {cankd.__version__} | torch {torch.__version__} | mmengine {mmengine.__version__} | "
      f"mmcv {mmcv.__version__} (ops ok) | mmdet {mmdet.__version__} | mmseg {mmseg.__version__}")
PY
