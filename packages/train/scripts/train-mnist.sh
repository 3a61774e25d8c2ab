#!/usr/bin/env bash
# Train the MNIST models end to end (tokenizer, then VAR), resuming whatever is already done.
# Run from the repository root after `pnpm install && pnpm turbo run build --filter @var/train...`:
#   nohup packages/train/scripts/train-mnist.sh > runs/train-mnist.log 2>&1 &
# Re-running it resumes both runs from their last checkpoints.
set -euo pipefail
THREADS="${THREADS:-1}"  # tokenizer threads; the VAR stage uses VAR_THREADS (default 2)
mkdir -p runs/mnist-tokenizer runs/mnist-var
node packages/train/scripts/train.mjs packages/train/scripts/configs/mnist-tokenizer.json --threads "$THREADS" >> runs/mnist-tokenizer/stdout.log 2>&1
node packages/train/scripts/train.mjs packages/train/scripts/configs/mnist-var.json --threads "${VAR_THREADS:-2}" >> runs/mnist-var/stdout.log 2>&1
