#!/usr/bin/env python3
"""The transformers side of tools/bench_llm.sh: LLM prefill and decode tokens/s on CPU in fp32.

    python tools/bench_llm_transformers.py make DIR      # write the random bench model to DIR
    python tools/bench_llm_transformers.py bench DIR --threads T [--batch 1,8] [--beams 1,4]
                                           [--prompt-len 128] [--new-tokens 32] [--repeats 3]
    python tools/bench_llm_transformers.py targets DIR --threads T [--batch 32] [--prompt-len 40]
                                           [--new-tokens 48] [--temperature 0.7] [--repeats 3]

The model is the one issue 4 names: Llama, hidden 512, 8 layers, 8 heads, 2 KV heads, vocab 32000
(intermediate 1376), random weights from torch.manual_seed(0), saved as f32 safetensors so acdc loads
the very same weights. Measured exactly as `acdc lm bench` measures (src/app/lm_bench.rs):
prefill = batch*prompt_len / time of one forward over the prompts with a fresh cache; decode =
batch*new_tokens / (time of generate(max_new_tokens=min_new_tokens=new_tokens) - prefill time);
no eos, greedy or beam search (num_beams=K, batched as transformers does); one warm-up, then the
median of `repeats`. Prints one JSON line per case.

Needs: pip install torch==2.11.0 transformers==5.24.0 (the /work/venv-ref environment).
"""

import argparse
import json
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

CONFIG = dict(
    vocab_size=32000,
    hidden_size=512,
    intermediate_size=1376,
    num_hidden_layers=8,
    num_attention_heads=8,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    rope_theta=500000.0,
    max_position_embeddings=2048,
    tie_word_embeddings=False,
    bos_token_id=1,
    eos_token_id=2,
)


def make(out):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**CONFIG)).eval()
    model.save_pretrained(out, safe_serialization=True)


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def bench(args):
    torch.set_num_threads(args.threads)
    model = LlamaForCausalLM.from_pretrained(
        args.dir, dtype=torch.float32, attn_implementation="sdpa"
    ).eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    g = torch.Generator().manual_seed(0)
    for batch in args.batch:
        ids = torch.randint(0, CONFIG["vocab_size"], (batch, args.prompt_len), generator=g)
        mask = torch.ones_like(ids)

        def prefill():
            with torch.inference_mode():
                out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
                out.logits.float().sum().item()

        prefill()
        pre = statistics.median(timed(prefill) for _ in range(args.repeats))
        for beams in args.beams:

            def gen(n):
                with torch.inference_mode():
                    model.generate(
                        input_ids=ids,
                        attention_mask=mask,
                        do_sample=False,
                        num_beams=beams,
                        max_new_tokens=n,
                        min_new_tokens=n,
                        early_stopping=False,
                    )

            gen(2)
            total = statistics.median(timed(lambda: gen(args.new_tokens)) for _ in range(args.repeats))
            decode = max(total - pre, 1e-9)
            print(
                json.dumps(
                    dict(
                        impl="transformers",
                        threads=args.threads,
                        batch=batch,
                        beams=beams,
                        prefill_ms=pre * 1e3,
                        decode_ms=decode * 1e3,
                        total_ms=total * 1e3,
                        prefill_tok_s=batch * args.prompt_len / pre,
                        decode_tok_s=batch * args.new_tokens / decode,
                    )
                ),
                flush=True,
            )


def targets(args):
    """Target generation as benches/targets.rs measures it: sampling (temperature, top-p 1, no
    top-k), `batch` prompts of `prompt_len` random ids, exactly `new_tokens` new tokens each."""
    torch.set_num_threads(args.threads)
    model = LlamaForCausalLM.from_pretrained(
        args.dir, dtype=torch.float32, attn_implementation="sdpa"
    ).eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, CONFIG["vocab_size"], (args.batch, args.prompt_len), generator=g)
    mask = torch.ones_like(ids)

    def gen():
        with torch.inference_mode():
            model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                temperature=args.temperature,
                top_p=1.0,
                top_k=0,
                max_new_tokens=args.new_tokens,
                min_new_tokens=args.new_tokens,
            )

    gen()
    s = statistics.median(timed(gen) for _ in range(args.repeats))
    print(
        json.dumps(
            dict(
                impl="transformers",
                threads=args.threads,
                batch=args.batch,
                prompt_len=args.prompt_len,
                new_tokens=args.new_tokens,
                seconds=s,
                replies_per_s=args.batch / s,
                tokens_per_s=args.batch * args.new_tokens / s,
            )
        ),
        flush=True,
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    b = sub.add_parser("bench")
    b.add_argument("dir")
    b.add_argument("--threads", type=int, default=1)
    ints = lambda s: [int(x) for x in s.split(",")]
    b.add_argument("--batch", type=ints, default=[1, 8])
    b.add_argument("--beams", type=ints, default=[1, 4])
    b.add_argument("--prompt-len", type=int, default=128)
    b.add_argument("--new-tokens", type=int, default=32)
    b.add_argument("--repeats", type=int, default=3)
    t = sub.add_parser("targets")
    t.add_argument("dir")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--prompt-len", type=int, default=40)
    t.add_argument("--new-tokens", type=int, default=48)
    t.add_argument("--temperature", type=float, default=0.7)
    t.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.cmd == "make":
        make(args.dir)
    elif args.cmd == "targets":
        targets(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
