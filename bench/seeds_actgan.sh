#!/usr/bin/env bash
# Equal-epoch quality over several seeds: ours and ctgan 0.12.1, both at defaults, judged by ../shared/peers/judge.py.
#   bench/seeds_actgan.sh EPOCHS SEED...        e.g. bench/seeds_actgan.sh 100 1 2
# Runs alternate between the models; one JSON line per run goes to bench/results/actgan_seeds.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
P="${PEERS_HOME:-$HOME/.cache/synth-peers}"
PY="${PYTHON:-.venv/bin/python}"
epochs="$1"; shift
mkdir -p bench/results
for seed in "$@"; do
  for model in ctgan ours; do
    out="bench/results/seed_${model}_${epochs}_${seed}.parquet"
    if [[ $model == ctgan ]]; then
      fit=$("$P/ctgan/bin/python" ../shared/peers/peer_ctgan.py data/diamonds.parquet "$out" --epochs "$epochs" --seed "$seed" | tail -1)
    else
      fit=$("$PY" bench/run_actgan.py data/diamonds.parquet "$out" --epochs "$epochs" --seed "$seed" | tail -1)
    fi
    score=$("$P/ctgan/bin/python" ../shared/peers/judge.py table data/diamonds.parquet "$out" | tail -1)
    echo "{\"model\": \"$model\", \"seed\": $seed, \"epochs\": $epochs, \"fit\": $fit, \"judge\": $score}" | tee -a bench/results/actgan_seeds.jsonl
  done
done
