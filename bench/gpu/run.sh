#!/usr/bin/env bash
# The GPU kit: one command that, on a machine with an NVIDIA GPU (CUDA compiler, CMake, PyTorch +
# transformers + peft; Node.js not needed), builds ggml with CUDA for THIS GPU's architecture
# from the llama.cpp source node-llama-cpp ships, builds our standalone training benchmark, runs
# it on real model shapes and base types, runs PyTorch + PEFT on the same shapes as the reference,
# and prints one table. Without a GPU (`--cpu`, and what CI runs) it builds for the CPU and runs
# the smallest shape only, so the kit cannot rot unnoticed.
#
#   bash bench/gpu/run.sh            # GPU: all shapes, our F16/Q8_0/Q4_K bases vs PyTorch+PEFT bf16
#   bash bench/gpu/run.sh --cpu      # CPU smoke run: tiny-ci shape, F16 and Q8_0, no PyTorch
#   options: --shapes "qwen2-0.5b qwen2-1.5b" --types "f16 q4_K" --seq 512 --batch 4 --steps 6
#            --ckpt-types "q4_K" (these base types run once more with gradient checkpointing: the
#            memory row; default q4_K on a GPU, q8_0 on the CPU; "" for none)
#            --budget SECONDS (stop starting new rows past it; default 480) --explain --profile
#   (--profile: one more, untimed step per row with every node timed alone: where the time goes)
#
# What travels to the GPU machine: this repository's tracked files plus
# node_modules/node-llama-cpp/llama/gitRelease.bundle (34 MB; pass it in the device call's
# `carry`) — or set ZJ_LLAMA_BUNDLE / ZJ_LLAMA_DIR. Results land in bench/gpu/out/ (or $OUT).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode=gpu
shapes=""
types=""
ckpt_types="unset"
seq=512
batch=4
steps=6
budget=480
explain=""
profile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) mode=cpu ;;
    --shapes) shapes="$2"; shift ;;
    --types) types="$2"; shift ;;
    --ckpt-types) ckpt_types="$2"; shift ;;
    --seq) seq="$2"; shift ;;
    --batch) batch="$2"; shift ;;
    --steps) steps="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    --explain) explain="--explain" ;;
    --profile) profile="--profile" ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$mode" = cpu ]; then
  shapes="${shapes:-tiny-ci}"; types="${types:-f16 q8_0}"; seq=64; batch=2; steps=3
  [ "$ckpt_types" = unset ] && ckpt_types="q8_0"
else
  shapes="${shapes:-qwen2-0.5b qwen2-1.5b qwen2-7b}"; types="${types:-f16 q8_0 q4_K}"
  [ "$ckpt_types" = unset ] && ckpt_types="q4_K"
  profile="--profile"  # a GPU loan is rare: always bring back where the time goes
fi

out="${OUT:-$here/out}"
work="${ZJ_WORK:-$here/work}"
mkdir -p "$out" "$work"
started=$(date +%s)
log() { echo "[gpu-kit $(( $(date +%s) - started ))s] $*" >&2; }

# 1. llama.cpp source at node-llama-cpp's tag (the ggml our addon links in the app)
llama="${ZJ_LLAMA_DIR:-$work/llama.cpp}"
if [ ! -f "$llama/ggml/CMakeLists.txt" ]; then
  bundle="${ZJ_LLAMA_BUNDLE:-$root/node_modules/node-llama-cpp/llama/gitRelease.bundle}"
  [ -f "$bundle" ] || { echo "run.sh: no llama.cpp source: $bundle is missing (carry it, or set ZJ_LLAMA_BUNDLE)" >&2; exit 1; }
  log "cloning llama.cpp from $bundle"
  rm -rf "$llama"
  git clone --quiet --no-checkout "$bundle" "$llama"
  git -C "$llama" sparse-checkout set --no-cone /ggml/ /include/ >/dev/null
  git -C "$llama" -c advice.detachedHead=false checkout --quiet HEAD
fi

# 2. ggml + the benchmark: CUDA for this GPU's compute capability only (minutes, not an hour)
build="$work/build-$mode"
cuda_flags=()
if [ "$mode" = gpu ]; then
  command -v nvidia-smi >/dev/null || { echo "run.sh: no nvidia-smi: no GPU here (use --cpu)" >&2; exit 1; }
  arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')"
  log "GPU: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1), compute capability ${arch}"
  cuda_flags=(-DZJ_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${arch}")
fi
jobs="$(nproc 2>/dev/null || echo 2)"
log "building ggml ($mode) and zhongjing-train-bench with $jobs jobs"
cmake -S "$root/native/bench" -B "$build" -DZJ_LLAMA_DIR="$llama" -DCMAKE_BUILD_TYPE=Release "${cuda_flags[@]}" >"$out/cmake-configure.log" 2>&1 \
  || { tail -30 "$out/cmake-configure.log" >&2; exit 1; }
cmake --build "$build" -j "$jobs" --target zhongjing-train-bench >"$out/cmake-build.log" 2>&1 \
  || { tail -40 "$out/cmake-build.log" >&2; exit 1; }
bench="$build/zhongjing-train-bench"
log "built $bench"

# 3. the CUDA-vs-CPU logits check and the backend of every op kind first: small and quick, and the
#    correctness answer a GPU loan must bring back whatever else the budget allows
results="$out/results.jsonl"
ref="$out/reference.jsonl"
: >"$results"
: >"$ref"
threads="$(nproc 2>/dev/null || echo 1)"
[ "$mode" = cpu ] && threads=1
gpu_flag=(); [ "$mode" = gpu ] && gpu_flag=(--gpu)
if [ "$mode" = gpu ]; then
  log "CUDA vs CPU logits (small shape) and the backend of every op kind"
  "$bench" --shape small --type f16 --seq 64 --batch 1 --steps 2 --gpu --check --explain --threads "$threads" --model-dir "$work/models" \
    >"$out/check.json" 2>"$out/check.log" || log "check failed: $(tail -1 "$out/check.log")"
fi
torch=no
if [ "$mode" = gpu ] && python3 -c 'import torch, transformers, peft' 2>/dev/null; then torch=yes; else log "no PyTorch run ($mode mode or torch/transformers/peft missing)"; fi

# 4. shape by shape, within the time budget: the PyTorch + PEFT reference (bf16, the same shapes,
#    LoRA and batch), then ours on every base type and the --ckpt-types rows with gradient
#    checkpointing; so a budget that runs out still leaves whole shapes with both sides
over_budget() { [ $(( $(date +%s) - started )) -gt "$budget" ]; }
for shape in $shapes; do
  if [ "$torch" = yes ]; then
    if over_budget; then log "budget of ${budget}s spent: skipping PyTorch $shape"
    else
      log "PyTorch + PEFT: $shape"
      python3 "$here/peft_reference.py" --shape "$shape" --seq "$seq" --batch "$batch" --steps "$steps" >>"$ref" 2>"$out/peft-$shape.log" \
        || log "PyTorch failed on $shape: $(tail -1 "$out/peft-$shape.log")"
    fi
  fi
  for row in $types $(for t in $ckpt_types; do echo "$t+ckpt"; done); do
    type="${row%+ckpt}"
    ckpt=(); [ "$row" != "$type" ] && ckpt=(--checkpointing)
    name="$shape-$type${ckpt:+-ckpt}"
    if over_budget; then log "budget of ${budget}s spent: skipping $name"; continue; fi
    log "ours: $name"
    if "$bench" --shape "$shape" --type "$type" --seq "$seq" --batch "$batch" --steps "$steps" --threads "$threads" \
         --model-dir "$work/models" "${gpu_flag[@]}" "${ckpt[@]}" $explain $profile >>"$results" 2>"$out/ours-$name.log"; then :
    else log "ours failed on $name: $(tail -1 "$out/ours-$name.log")"; fi
  done
done

# 5. one table
python3 "$here/table.py" "$results" "$ref" "$out/check.json" | tee "$out/table.txt"
log "done"
