#!/usr/bin/env bash
# Write a fixture case with the official code (make_case.py) and run the parity suites on it.
# usage: bash tooling/fixture-cases/run-case.sh [PRESET] [extra make_case.py args...]
#   PRESET: tiny | shared-aln-nol2 (default) | qsr1-neg | nonshared | px128 | px256
# Needs /usr/bin/python3 with torch (Debian python3-torch); without it, says so and exits 0.
# The case goes to ${VAR_CASES_DIR:-node_modules/.cache/var-cases}/PRESET (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."
preset="${1:-shared-aln-nol2}"
shift || true
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  echo "[fixture-case] /usr/bin/python3 has no torch (apt-get install python3-torch); extra case $preset not run"
  exit 0
fi
dir="${VAR_CASES_DIR:-node_modules/.cache/var-cases}/$preset"
start=$(date +%s)
/usr/bin/python3 tooling/fixture-cases/make_case.py "$dir" --preset "$preset" "$@" 2> >(grep -E "param_seed|wrote" >&2)
echo "[fixture-case] $preset written in $(( $(date +%s) - start )) s: $dir"
start=$(date +%s)
VAR_FIXTURE_DIR="$(cd "$dir" && pwd)" VAR_WASM_THREADS="${VAR_WASM_THREADS:-1}" pnpm exec vitest run \
  packages/tokenizer/test/parity.test.ts packages/tokenizer/test/config.test.ts \
  packages/transformer/test/config.test.ts packages/transformer/test/forward.test.ts packages/transformer/test/grads.test.ts \
  packages/transformer/test/inference.test.ts packages/transformer/test/model.test.ts packages/sampling/test/parity.test.ts \
  packages/sampling/test/determinism.test.ts packages/sampling/test/mask.test.ts \
  packages/checkpoint/test/fixtures.test.ts packages/core/test/resize/interpolate.test.ts
echo "[fixture-case] parity suites on $preset passed in $(( $(date +%s) - start )) s"
