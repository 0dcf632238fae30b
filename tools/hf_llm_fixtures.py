#!/usr/bin/env python3
"""Generate tiny Hugging Face LLM reference fixtures for acdc's Rust LLM loader.

Run from the repository root:

    /work/venv-ref/bin/python tools/hf_llm_fixtures.py

Writes tests/fixtures/hf/{llama,llama3_scaled,qwen2,mistral}/ (see
tests/fixtures/hf/PROVENANCE.md for what each file is). Deterministic: every
model gets its own torch.manual_seed, and all reference computations run on the
CPU in float32 with the eager attention implementation.
"""

import json
import os
import shutil
import sys

import numpy as np
import torch
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

OUT = os.path.join("tests", "fixtures", "hf")

COMMON = dict(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    max_position_embeddings=128,
    initializer_range=0.2,
    hidden_act="silu",
    bos_token_id=None,
    eos_token_id=None,  # no EOS: greedy generation always runs max_new_tokens
    pad_token_id=0,
    use_cache=True,
)

SEQ = 9
PAD = 3
PAD_ID = 0
N_NEW = 8


def make_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    row0 = torch.randint(1, COMMON["vocab_size"], (SEQ,), generator=g)
    row1 = torch.randint(1, COMMON["vocab_size"], (SEQ - PAD,), generator=g)
    ids = torch.full((2, SEQ), PAD_ID, dtype=torch.long)
    ids[0] = row0
    ids[1, PAD:] = row1
    mask = torch.ones((2, SEQ), dtype=torch.long)
    mask[1, :PAD] = 0
    return ids, mask


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


@torch.no_grad()
def record(model, d, ids, mask, seed):
    """model: float32, eval mode. Writes inputs/logits/embeds/greedy files into d."""
    model.eval()
    write_json(
        os.path.join(d, "inputs.json"),
        {"ids": ids.tolist(), "attention_mask": mask.tolist()},
    )

    logits = model(input_ids=ids, attention_mask=mask).logits.float()
    np.save(os.path.join(d, "logits.npy"), logits.numpy().astype(np.float32))

    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    logits_p = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()
    np.save(os.path.join(d, "logits_positions.npy"), logits_p.numpy().astype(np.float32))

    g = torch.Generator().manual_seed(seed + 1000)
    embeds = torch.randn((3, model.config.hidden_size), generator=g, dtype=torch.float32)
    np.save(os.path.join(d, "embeds.npy"), embeds.numpy())
    e = model.get_input_embeddings()(ids[0:1]).clone()
    e[0, 2:5] = embeds
    elog = model(inputs_embeds=e).logits.float()
    np.save(os.path.join(d, "embeds_logits.npy"), elog.numpy().astype(np.float32))

    gen_cfg = GenerationConfig(
        max_new_tokens=N_NEW,
        do_sample=False,
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=PAD_ID,
    )
    row0 = ids[0:1]
    out = model.generate(
        row0, attention_mask=torch.ones_like(row0), generation_config=gen_cfg
    )
    new = out[0, row0.shape[1]:].tolist()
    assert len(new) == N_NEW, new
    # Cross-check: manual greedy loop without KV cache must agree.
    cur = row0.clone()
    for _ in range(N_NEW):
        nxt = model(input_ids=cur).logits[:, -1].argmax(-1, keepdim=True)
        cur = torch.cat([cur, nxt], dim=1)
    assert cur[0, row0.shape[1]:].tolist() == new, (cur, new)
    write_json(
        os.path.join(d, "greedy.json"),
        {"prompt": row0[0].tolist(), "max_new_tokens": N_NEW, "new_tokens": new},
    )


@torch.no_grad()
def randomize_norms(model):
    """RMSNorm weights are initialised to 1.0; perturb them so a loader that
    ignores (or mis-maps) norm weights fails the logits check."""
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            p.copy_(1.0 + 0.1 * torch.randn_like(p))


def fresh_dir(name):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def build_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(
        **COMMON,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
    )
    model = LlamaForCausalLM(cfg).to(torch.float32).eval()
    model.config._attn_implementation = "eager"
    randomize_norms(model)
    d = fresh_dir("llama")
    model.save_pretrained(d, safe_serialization=True)
    ids, mask = make_inputs(100)
    record(model, d, ids, mask, 100)


def build_llama3_scaled():
    torch.manual_seed(1)
    cfg = LlamaConfig(
        **COMMON,
        rope_theta=500000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16,
        },
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
    )
    model = LlamaForCausalLM(cfg).eval()
    randomize_norms(model)
    model.to(torch.bfloat16)
    d = fresh_dir("llama3_scaled")
    model.save_pretrained(d, safe_serialization=True, max_shard_size="20KB")
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json")), os.listdir(d)
    # Reference: reload the saved bf16 weights, cast to float32, run in float32.
    ref = LlamaForCausalLM.from_pretrained(
        d, dtype=torch.bfloat16, attn_implementation="eager"
    ).to(torch.float32).eval()
    ids, mask = make_inputs(200)
    record(ref, d, ids, mask, 200)


def build_qwen2():
    torch.manual_seed(2)
    cfg = Qwen2Config(
        **COMMON,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        use_sliding_window=False,
    )
    model = Qwen2ForCausalLM(cfg).to(torch.float32).eval()
    model.config._attn_implementation = "eager"
    # Qwen2's q/k/v biases are zero-initialised by _init_weights; randomise them
    # so a loader that drops the biases fails the logits check.
    with torch.no_grad():
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0.0, 0.2)
    randomize_norms(model)
    d = fresh_dir("qwen2")
    model.save_pretrained(d, safe_serialization=True)
    ids, mask = make_inputs(300)
    record(model, d, ids, mask, 300)


def build_mistral():
    # Own seed, generated after the others: existing fixtures are unaffected.
    torch.manual_seed(3)
    cfg = MistralConfig(
        **COMMON,
        rope_theta=1000000.0,  # as Mistral-7B-v0.3
        sliding_window=None,
        tie_word_embeddings=False,
    )
    model = MistralForCausalLM(cfg).to(torch.float32).eval()
    model.config._attn_implementation = "eager"
    randomize_norms(model)
    d = fresh_dir("mistral")
    model.save_pretrained(d, safe_serialization=True)
    ids, mask = make_inputs(400)
    record(model, d, ids, mask, 400)


def main():
    if not os.path.isdir("tests") or not os.path.exists("Cargo.toml"):
        sys.exit("run from the acdc repository root")
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    build_llama()
    build_llama3_scaled()
    build_qwen2()
    build_mistral()
    for root, _, files in os.walk(OUT):
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
