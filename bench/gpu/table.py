#!/usr/bin/env python3
"""Prints the GPU kit's table: shape × base type → our tokens/s, PyTorch+PEFT tokens/s, the
ratio, and the peak memory of each (a base type marked +ckpt trained with gradient checkpointing); then the CUDA-vs-CPU logits check, every op kind that ran
on the CPU in a GPU run (there must be none), and where each row's step spends its time (--profile:
one extra, untimed step with every node timed alone)."""
import json
import sys


def rows(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def gib(n):
    return f"{n / 2**30:.2f} GiB" if n else "—"


def main():
    ours, ref = rows(sys.argv[1]), rows(sys.argv[2])
    check = rows(sys.argv[3]) if len(sys.argv) > 3 else []
    by_shape = {r["shape"]: r for r in ref}
    head = f"{'shape':<12} {'base':<11} {'ours tok/s':>11} {'PEFT tok/s':>11} {'ratio':>6} {'ours peak':>11} {'PEFT peak':>11} {'mem ratio':>9}  device"
    print(head)
    print("-" * len(head))
    for r in ours:
        p = by_shape.get(r["shape"])
        mine_mem = r.get("peak_device_bytes") or r.get("peak_rss_bytes") or 0
        ratio = f"{r['tokens_per_s'] / p['tokens_per_s']:.2f}×" if p else "—"
        mem_ratio = f"{mine_mem / p['peak_device_bytes']:.2f}×" if p and p.get("peak_device_bytes") else "—"
        base = r["type"] + ("+ckpt" if r.get("checkpointing") else "")
        print(f"{r['shape']:<12} {base:<11} {r['tokens_per_s']:>11.1f} {(p['tokens_per_s'] if p else 0):>11.1f} {ratio:>6} "
              f"{gib(mine_mem):>11} {gib(p['peak_device_bytes'] if p else 0):>11} {mem_ratio:>9}  {r['device']}")
    for c in check:
        if "check" in c:
            d = c["check"]
            print(f"\nCUDA vs CPU logits ({c['shape']}, {c['type']}): max |diff| {d['max_abs_diff']:.3g} of max |logit| {d['max_abs_logit']:.3g}")
    for r in ours + check:
        explain = r.get("explain")
        if not explain:
            continue
        on_cpu = {op: n for op, backends in explain.items() for b, n in backends.items() if b.upper().startswith("CPU")}
        gpu_run = "CPU" not in r["device"].upper()[:3]
        if gpu_run:
            print(f"ops on the CPU in the GPU run ({r['shape']} {r['type']}): " + (", ".join(f"{op}×{n}" for op, n in on_cpu.items()) or "none"))
        else:
            print(f"op kinds ({r['shape']} {r['type']}, CPU run): {len(explain)}")
    for r in ours:
        profile = r.get("profile")
        if not profile:
            continue
        total = sum(p["ms"] for p in profile)
        print(f"\nwhere the time goes ({r['shape']} {r['type']}, one step timed node by node, {total:.1f} ms; the 8 slowest):")
        for p in profile[:8]:
            print(f"  {p['ms']:9.2f} ms {100 * p['ms'] / total:5.1f}%  ×{p['calls']:<4} {p['op']}")


if __name__ == "__main__":
    main()
