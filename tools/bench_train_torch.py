#!/usr/bin/env python3
"""The PyTorch side of tools/bench_train.sh: one adapter training step on CPU in fp32, the same
computation as benches/train_step.rs.

    python tools/bench_train_torch.py DIR --threads T [--steps 10] [--warmup 2]
        [--device cpu|cuda] [--dtype f32|bf16] [--random]

On a GPU (`--device cuda`, `tools/gpu_check_cuda.sh`) the frozen Llama is in `--dtype` (the
adapter and AdamW stay f32; the audio embeddings are cast to the Llama's dtype where they are
spliced, as acdc does), each timed step ends with torch.cuda.synchronize(), and the peak memory
torch allocated is reported. `--random` builds the Llama from DIR/config.json with random weights
instead of loading a checkpoint (the acdc side: `acdc lm bench-train --random`).

DIR is the random bench Llama written by `tools/bench_llm_transformers.py make` (hidden 512,
8 layers, 8 heads, 2 KV heads, vocab 32000, intermediate 1376), loaded with transformers (sdpa) and
frozen. The adapter is AC/DC's projector: 100 encoder frames of width 768 stacked by 5 →
Linear(3840, 2048) → ReLU → Linear(2048, 512). Each row is 16 prompt tokens, the 20 audio
embeddings, 16 more prompt tokens and 48 target tokens (batch 8, no padding); the loss is the mean
cross-entropy of the 48 target tokens (labels -100 elsewhere); then clip_grad_norm_(1.0) and
AdamW(lr 1e-4, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on weights, none on biases: acdc's
defaults). Times the whole step (forward, backward, clip, optimizer step, zero_grad); one JSON line
with the median over `steps` after `warmup` untimed steps.

Needs: pip install torch==2.11.0 transformers==5.24.0 (the /work/venv-ref environment).
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn
from transformers import LlamaForCausalLM

BATCH, FRAMES, ENC_DIM, STACK, HIDDEN = 8, 100, 768, 5, 2048
PREFIX, SUFFIX, TARGET = 16, 16, 48


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--random", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    dt = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    if args.random:
        from transformers import LlamaConfig
        cfg = LlamaConfig.from_pretrained(args.dir)
        cfg._attn_implementation = "sdpa"
        llm = LlamaForCausalLM(cfg)
    else:
        llm = LlamaForCausalLM.from_pretrained(args.dir, dtype=torch.float32, attn_implementation="sdpa")
    llm = llm.to(device=dev, dtype=dt)
    llm.requires_grad_(False)
    llm.train()  # as a training loop would; the Llama has no dropout
    d_llm, vocab = llm.config.hidden_size, llm.config.vocab_size
    adapter = nn.Sequential(nn.Linear(STACK * ENC_DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, d_llm)).to(dev)
    decay = [p for n, p in adapter.named_parameters() if not n.endswith("bias")]
    no_decay = [p for n, p in adapter.named_parameters() if n.endswith("bias")]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
    )
    prefix = torch.randint(0, vocab, (BATCH, PREFIX), device=dev)
    suffix = torch.randint(0, vocab, (BATCH, SUFFIX), device=dev)
    target = torch.randint(0, vocab, (BATCH, TARGET), device=dev)
    frames = torch.randn(BATCH, FRAMES, ENC_DIM, device=dev)
    n_audio = FRAMES // STACK
    ignore = torch.full((BATCH, PREFIX + n_audio + SUFFIX), -100, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    labels = torch.cat([ignore, target], dim=1)
    embed = llm.get_input_embeddings()

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        sync()
        t = time.perf_counter()
        audio = adapter(frames[:, : n_audio * STACK].reshape(BATCH, n_audio, STACK * ENC_DIM)).to(dt)
        x = torch.cat([embed(prefix), audio, embed(suffix), embed(target)], dim=1)
        loss = llm(inputs_embeds=x, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapter.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
            losses.append(loss.item())
    med = statistics.median(times)
    seq = PREFIX + n_audio + SUFFIX + TARGET
    print(json.dumps({
        "impl": "torch", "threads": args.threads, "batch": BATCH, "seq_len": seq,
        "ms_per_step": med * 1e3, "tokens_per_s": BATCH * seq / med,
        "first_loss": losses[0], "last_loss": losses[-1], "steps": args.steps,
        "device": args.device, "dtype": args.dtype,
        "peak_mem_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None,
    }))


if __name__ == "__main__":
    main()
