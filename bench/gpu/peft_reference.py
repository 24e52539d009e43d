#!/usr/bin/env python3
"""The reference for the GPU kit: LoRA SFT steps in PyTorch + PEFT on a random-weight model of
the same shape, sequence length, batch, LoRA rank/alpha/targets and AdamW as
zhongjing-train-bench. bf16 weights (what people fine-tune with), SDPA attention, no gradient
checkpointing. Prints one JSON line: tokens/s (first step excluded, like ours) and peak CUDA
memory allocated. `--list-shapes` prints the shape table (checked against the C++ one in CI)."""
import argparse
import json
import sys
import time

# Same table as native/src/bench-train.cpp (config.json of each model; weights are random).
SHAPES = {
    "tiny-ci": ("llama", 128, 2, 4, 2, 352, 2048),
    "small": ("llama", 512, 4, 8, 4, 1376, 8192),
    "qwen2-0.5b": ("qwen2", 896, 24, 14, 2, 4864, 151936),
    "qwen2-1.5b": ("qwen2", 1536, 28, 12, 2, 8960, 151936),
    "qwen2-7b": ("qwen2", 3584, 28, 28, 4, 18944, 152064),
    "llama2-7b": ("llama", 4096, 32, 32, 32, 11008, 32000),
}
TARGETS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="qwen2-0.5b")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--targets", default="q,k,v,o,gate,up,down")
    p.add_argument("--list-shapes", action="store_true")
    a = p.parse_args()
    if a.list_shapes:
        print(json.dumps({k: list(v) for k, v in SHAPES.items()}))
        return

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    arch, n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab = SHAPES[a.shape]
    common = dict(vocab_size=n_vocab, hidden_size=n_embd, num_hidden_layers=n_layer, num_attention_heads=n_head,
                  num_key_value_heads=n_head_kv, intermediate_size=n_ff, max_position_embeddings=max(4096, a.seq),
                  rms_norm_eps=1e-6, tie_word_embeddings=False, attn_implementation="sdpa", torch_dtype=torch.bfloat16)
    config = Qwen2Config(**common, rope_theta=1e6) if arch == "qwen2" else LlamaConfig(**common)
    torch.manual_seed(1)
    with torch.device("cuda"):
        model = (Qwen2ForCausalLM if arch == "qwen2" else LlamaForCausalLM)(config).to(torch.bfloat16)
    lora = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                      target_modules=[TARGETS[t] for t in a.targets.split(",")])
    model = get_peft_model(model, lora)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    g = torch.Generator(device="cuda").manual_seed(11)
    tokens = torch.randint(0, n_vocab, (a.batch, a.seq), device="cuda", generator=g)
    torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for _ in range(a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model(input_ids=tokens, labels=tokens)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(float(out.loss))
    steady = sum(times[1:])
    print(json.dumps({
        "shape": a.shape, "device": torch.cuda.get_device_name(0), "seq": a.seq, "batch": a.batch, "rank": a.rank,
        "tokens_per_s": a.batch * a.seq * (len(times) - 1) / steady, "first_step_s": times[0],
        "loss_first": losses[0], "loss_last": losses[-1], "peak_device_bytes": torch.cuda.max_memory_allocated(),
        "trainable_params": sum(q.numel() for q in params), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
