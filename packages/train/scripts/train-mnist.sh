#!/usr/bin/env bash
# Train the MNIST models end to end (tokenizer, then VAR), resuming whatever is already done.
# Run from the repository root after `pnpm install && pnpm turbo run build --filter @var/train...`:
#   nohup packages/train/scripts/train-mnist.sh > runs/train-mnist.log 2>&1 &
#   VERSION=v2 nohup packages/train/scripts/train-mnist.sh > runs/train-mnist-v2.log 2>&1 &   # configs/*-v2.json
# Re-running it resumes both runs from their last checkpoints.
set -euo pipefail
SUFFIX="${VERSION:+-$VERSION}"
THREADS="${THREADS:-1}"          # tokenizer threads
VAR_THREADS="${VAR_THREADS:-2}"  # VAR threads
TOK=packages/train/scripts/configs/mnist-tokenizer$SUFFIX.json
VAR=packages/train/scripts/configs/mnist-var$SUFFIX.json
mkdir -p "runs/mnist-tokenizer$SUFFIX" "runs/mnist-var$SUFFIX"
node packages/train/scripts/train.mjs "$TOK" --threads "$THREADS" >> "runs/mnist-tokenizer$SUFFIX/stdout.log" 2>&1
node packages/train/scripts/train.mjs "$VAR" --threads "$VAR_THREADS" >> "runs/mnist-var$SUFFIX/stdout.log" 2>&1
