#!/usr/bin/env bash
# Install check: the package as a user gets it. Builds the wheel and the sdist with `build`,
# installs the wheel (not the checkout) into a fresh virtual environment with the CPU torch
# first, and runs from an empty folder: `skdcsae --version`, `skdcsae demo`, and a folder
# round trip on generated PNGs (keygen -> donor -> inspect -> recipient -> audit). Fails on
# any non-zero exit or any traceback. Called by .ci/run after the tests; about 2-3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PIP_DISABLE_PIP_VERSION_CHECK=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
start=$SECONDS

work=$(mktemp -d "${TMPDIR:-/tmp}/skdcsae-wheel-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== build (wheel and sdist)"
python3 -m venv "$work/build-venv"
"$work/build-venv/bin/python" -m pip install -q build
"$work/build-venv/bin/python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
wheel=$(ls "$work"/dist/skdcsae-*.whl)
sdist=$(ls "$work"/dist/skdcsae-*.tar.gz)
echo "built $(basename "$wheel") and $(basename "$sdist")"
tar -tzf "$sdist" >"$work/sdist.txt"  # (not piped into grep -q: pipefail and SIGPIPE)
grep -q '/skdcsae/_cli/__init__.py$' "$work/sdist.txt" \
  || { echo "the sdist lacks skdcsae/_cli" >&2; exit 1; }

echo "== install the wheel into a fresh venv ($((SECONDS - start)) s so far)"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q torch==2.13.0  # the CPU wheel first
"$work/venv/bin/python" -m pip install -q "$wheel"
PATH="$work/venv/bin:$PATH"
export PATH

echo "== run the installed commands ($((SECONDS - start)) s so far)"
cd "$work"  # away from the checkout: only the installed package can be imported
mkdir run && cd run
log="$work/commands.log"
: >"$log"
check() {  # run a command, keep its output, fail on an error exit or a traceback
  local t=$SECONDS
  echo "\$ $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    cat "$log" >&2
    echo "wheel check: '$*' failed" >&2
    exit 1
  fi
  echo "ok ($((SECONDS - t)) s): $*"
}

check skdcsae --version
check python -c "import skdcsae, os; assert '$repo' not in os.path.abspath(skdcsae.__file__)"
check skdcsae demo --epochs 10 --out-dir demo --device cpu

# Two classes of 28x28 grey images (a bright disc, a bright bar) with noise; PNGs via Pillow.
check python - <<'EOF'
from pathlib import Path

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)
yy, xx = np.mgrid[:28, :28]
shapes = {
    "disc": ((yy - 14) ** 2 + (xx - 14) ** 2 < 49),
    "bar": (np.abs(xx - 14) < 3),
}
for folder, n, labelled in (("donor", 12, True), ("new", 10, True), ("unlabelled", 8, False)):
    for name, mask in shapes.items():
        out = Path(folder) / name if labelled else Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = 40 + 170 * mask + rng.normal(0, 20, mask.shape)
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            image.save(out / f"{name}_{i:02d}.png")
EOF
check skdcsae keygen secret.key
check skdcsae donor donor/ --out kit.joblib --image-size 16 --epochs 10 --key-file secret.key \
  --device cpu
check skdcsae inspect kit.joblib --key-file secret.key
check skdcsae recipient kit.joblib unlabelled/ --out labels.csv --key-file secret.key \
  --device cpu -q
check skdcsae recipient kit.joblib new/ --out scored.csv --key-file secret.key --device cpu
check skdcsae audit kit.joblib --members donor/ --non-members new/ --eval new/ \
  --key-file secret.key --device cpu

if grep -q "Traceback" "$log"; then
  cat "$log" >&2
  echo "wheel check: a command printed a traceback" >&2
  exit 1
fi
rows=$(($(wc -l <labels.csv) - 1))
[ "$rows" -eq 16 ] || { echo "labels.csv has $rows rows, expected 16" >&2; exit 1; }
grep -q "accuracy against them" "$log" \
  || { cat "$log" >&2; echo "the recipient printed no accuracy for labelled folders" >&2; exit 1; }
echo "wheel check passed in $((SECONDS - start)) s; the commands printed:"
cat "$log"
