#!/usr/bin/env bash
# GPU check of msmix on one GPU (at most 7.5 minutes: each step has a time limit): run from the repository root with msmix installed.
#
#   bash benchmarks/gpu_check.sh            # optional: MMSA_VENV=../mmsa-venv (MMSA installed there)
#
# 1. The six backbones, no augmentation and MS-Mix, bf16, batch 64, MOSI shapes, the in-memory data
#    path: step time, samples/s, the input pipeline's share of the step, peak GPU memory
#    (benchmarks/bench_training.py; the MS-Mix/none ratios and data shares are checked at the end).
# 2. TFN and LMF epoch time against MMSA on the same GPU and the same MOSI-shaped pickle
#    (benchmarks/bench_vs_mmsa.py; target <= 0.5x MMSA's). Needs MMSA in its own venv, which the
#    GPU machine cannot download: without it, msmix's epoch times per data path are printed instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PYTHON="${PYTHON:-python}"
MMSA_VENV="${MMSA_VENV:-../mmsa-venv}"
OUT="${OUT:-gpu_check}"
mkdir -p "$OUT"

"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('GPU:', torch.cuda.get_device_name(), '| torch', torch.__version__)"

echo "== 1. step time, samples/s, input pipeline share, peak GPU memory (bf16, batch 64, MOSI shapes)"
timeout 270 "$PYTHON" -m benchmarks.bench_training --device cuda --bf16 --shapes mosi \
    --backbones tfn lmf mult misa almt glomo --augmentations none msmix --data-paths in_memory \
    --steps 15 --warmup 3 --output "$OUT/bench_training.json" || echo "step 1 stopped early (exit $?)"

echo "== 2. TFN and LMF epoch time against MMSA on this GPU (full MOSI shapes, 2 epochs)"
if [ -x "$MMSA_VENV/bin/python" ]; then
    timeout 180 "$PYTHON" -m benchmarks.bench_vs_mmsa --device cuda --backbones tfn lmf --epochs 2 \
        --msmix-data-paths in_memory --mmsa-venv "$MMSA_VENV" --no-install --output "$OUT/bench_vs_mmsa.json" \
        || echo "step 2 stopped early (exit $?)"
else
    echo "MMSA venv not found at $MMSA_VENV: msmix's epoch times only (arrow = before, in_memory = after)"
    timeout 180 "$PYTHON" -m benchmarks.bench_vs_mmsa --device cuda --backbones tfn lmf --epochs 2 \
        --msmix-only --output "$OUT/bench_vs_mmsa.json" || echo "step 2 stopped early (exit $?)"
fi
echo "results: $OUT/"
