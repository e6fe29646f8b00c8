#!/usr/bin/env bash
# ACTGAN (ours) vs sdv-dev CTGAN 0.12.1 on a CUDA machine, side by side in one run.
# Expects: data/diamonds.parquet, and .gpu-wheels/ holding ctgan, rdt, faker and pandas<3 wheels plus
# a copy of ../shared/peers/peer_ctgan.py (the GPU machine has no registry access).
#   bash bench/gpu_actgan.sh [E1 E2 REPEATS]   -> JSON lines on stdout
set -euo pipefail
E1=${1:-3}; E2=${2:-6}; REPEATS=${3:-2}
# the peer's packages (pandas 2 among them) go first on its PYTHONPATH; ours use the image's own
python3 -m pip install -q --no-index --no-deps --target /tmp/peerlib .gpu-wheels/*.whl
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
for rep in $(seq "$REPEATS"); do
  for e in "$E1" "$E2"; do
    PYTHONPATH=/tmp/peerlib python3 .gpu-wheels/peer_ctgan.py data/diamonds.parquet "/tmp/ct_$e.parquet" --epochs "$e" \
      | sed "s/^{/{\"rep\": $rep, \"who\": \"ctgan-cuda\", /"
    PYTHONPATH=. python3 bench/run_actgan.py data/diamonds.parquet "/tmp/ours_$e.parquet" --epochs "$e" --device cuda \
      | sed "s/^{/{\"rep\": $rep, \"who\": \"ours-cuda\", /"
    PYTHONPATH=. python3 bench/run_actgan.py data/diamonds.parquet "/tmp/ours_amp_$e.parquet" --epochs "$e" --device cuda --amp \
      | sed "s/^{/{\"rep\": $rep, \"who\": \"ours-cuda-amp\", /"
  done
done
