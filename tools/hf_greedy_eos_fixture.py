#!/usr/bin/env python3
"""Greedy-decoding-with-eos reference fixture for acdc (tiny llama model).

What: pins how Hugging Face transformers' greedy `generate` treats an eos token:
the eos that ends a row IS returned as that row's last new token, and a finished
row is then right-filled with pad_token_id while other rows of the batch keep
going (generation stops early once every row has finished). The fixture lets the
Rust greedy decoder be tested to return the eos token that ended a row.

Run from the repository root, after tools/hf_llm_fixtures.py has produced
tests/fixtures/hf/llama/ (this script only READS that model and greedy.json):

    /work/venv-ref/bin/python tools/hf_greedy_eos_fixture.py

Writes exactly one file, tests/fixtures/hf/llama/greedy_eos.json (see
tests/fixtures/hf/PROVENANCE.md). The model is `llama/` reloaded with
`from_pretrained(dtype=float32, attn_implementation="eager")`, eval, no_grad, CPU.

Every case is `model.generate(input_ids, attention_mask=mask, do_sample=False,
max_new_tokens=8, pad_token_id=0, bos_token_id=None, eos_token_id=E)`.
For each row the script asserts that the raw output after the first eos is only
pad ids, and that an independent cache-free, unpadded argmax loop over that
row's own prompt (stopping after the first eos) gives the same new tokens.

Determinism: no randomness is involved (greedy, fixed weights, fixed prompts);
CPU float32, torch.use_deterministic_algorithms(True), one thread. The eos for
the batch case is chosen programmatically (85 if it stops exactly one row before
max_new_tokens and never occurs in the other row, else the smallest such id).
Two consecutive runs gave byte-identical output.
"""

import json
import os
import sys

import torch
from transformers import LlamaForCausalLM

LLAMA = os.path.join("tests", "fixtures", "hf", "llama")
OUT = os.path.join(LLAMA, "greedy_eos.json")
PAD_ID = 0
N_NEW = 8
NEVER_EOS = 95  # not among greedy.json's new tokens (checked below)
SHORT_LEN = 5  # batch row 1 = last SHORT_LEN ids of the greedy.json prompt


def load_llama():
    m = LlamaForCausalLM.from_pretrained(LLAMA, dtype=torch.float32, attn_implementation="eager")
    return m.eval()


def left_pad(prompts):
    n = max(len(p) for p in prompts)
    ids = [[PAD_ID] * (n - len(p)) + list(p) for p in prompts]
    mask = [[0] * (n - len(p)) + [1] * len(p) for p in prompts]
    return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


def eos_list(E):
    if E is None:
        return []
    return list(E) if isinstance(E, (list, tuple)) else [E]


def cut_at_eos(row, E):
    """row cut just after its first eos (eos included); whole row if none."""
    stops = set(eos_list(E))
    for i, t in enumerate(row):
        if t in stops:
            return row[: i + 1], True
    return list(row), False


@torch.no_grad()
def ref_greedy(model, prompt, E):
    """Cache-free, unpadded argmax loop; stops after the first eos."""
    stops = set(eos_list(E))
    cur = torch.tensor([prompt], dtype=torch.long)
    new = []
    for _ in range(N_NEW):
        t = int(model(input_ids=cur).logits[0, -1].argmax(-1))
        new.append(t)
        cur = torch.cat([cur, torch.tensor([[t]])], dim=1)
        if t in stops:
            break
    return new


@torch.no_grad()
def hf_generate(model, prompts, E):
    ids, mask = left_pad(prompts)
    kwargs = dict(
        do_sample=False,
        max_new_tokens=N_NEW,
        pad_token_id=PAD_ID,
        bos_token_id=None,
        eos_token_id=E,
    )
    out = model.generate(ids, attention_mask=mask, **kwargs)
    raw = out[:, ids.shape[1]:].tolist()
    return ids, mask, kwargs, raw


def run_case(model, name, prompts, E):
    ids, mask, kwargs, raw = hf_generate(model, prompts, E)
    new_tokens, ended = [], []
    for prompt, row in zip(prompts, raw):
        assert len(row) <= N_NEW, row
        cut, hit = cut_at_eos(row, E)
        # After the first eos transformers only writes pad ids.
        assert all(t == PAD_ID for t in row[len(cut):]), (name, row, cut)
        # A row with no eos ran to max_new_tokens (only then may it stop).
        assert hit or len(row) == N_NEW, (name, row)
        ref = ref_greedy(model, prompt, E)
        assert ref == cut, (name, prompt, ref, cut)
        new_tokens.append(cut)
        ended.append(hit)
    return {
        "name": name,
        "generate_kwargs": kwargs,
        "prompts": [list(p) for p in prompts],
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "raw_new_tokens": raw,
        "new_tokens": new_tokens,
        "ended_with_eos": ended,
    }


def dumps(obj, indent=0):
    """JSON with 2-space indent, but lists of scalars kept on one line."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(x, (list, dict)) for x in obj):
            return json.dumps(obj)
        items = [inner + dumps(x, indent + 1) for x in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj)


def main():
    if not os.path.isdir("tests") or not os.path.exists("Cargo.toml"):
        sys.exit("run from the acdc repository root")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    with open(os.path.join(LLAMA, "greedy.json")) as f:
        greedy = json.load(f)
    prompt = greedy["prompt"]
    no_eos = greedy["new_tokens"]
    assert greedy["max_new_tokens"] == N_NEW and len(no_eos) == N_NEW
    assert NEVER_EOS not in no_eos

    model = load_llama()
    # Sanity: without eos we reproduce greedy.json.
    _, _, _, raw = hf_generate(model, [prompt], None)
    assert raw == [no_eos], (raw, no_eos)

    cases = []
    for name, E in [
        ("single_eos_85", 85),
        ("single_eos_5", 5),
        ("single_eos_list_29_5", [29, 5]),
        ("single_eos_never_95", NEVER_EOS),
    ]:
        cases.append(run_case(model, name, [prompt], E))

    # Batch: row 0 = prompt, row 1 = its last SHORT_LEN ids, left-padded.
    short = prompt[-SHORT_LEN:]
    batch = [prompt, short]
    _, _, _, batch_no_eos = hf_generate(model, batch, None)

    def ends_exactly_one_early(e):
        # e stops one row before max_new_tokens and never occurs in the other row
        early = [e in row[: N_NEW - 1] for row in batch_no_eos]
        seen = [e in row for row in batch_no_eos]
        return sum(early) == 1 and sum(seen) == 1

    candidates = [85] + [e for e in range(1, 96) if e != 85]
    E_batch = next(e for e in candidates if ends_exactly_one_early(e))
    bcase = run_case(model, f"batch_left_padded_eos_{E_batch}", batch, E_batch)
    assert sum(bcase["ended_with_eos"]) == 1, bcase
    assert any(len(r) < N_NEW for r in bcase["new_tokens"]), bcase
    cases.append(bcase)

    doc = {
        "model": "tests/fixtures/hf/llama",
        "max_new_tokens": N_NEW,
        "pad_token_id": PAD_ID,
        "no_eos_new_tokens": no_eos,
        "batch_no_eos_raw_new_tokens": batch_no_eos,
        "cases": cases,
    }
    with open(OUT, "w") as f:
        f.write(dumps(doc) + "\n")
    os.chmod(OUT, 0o644)
    print("wrote", OUT)
    for c in cases:
        print(c["name"], c["raw_new_tokens"], c["new_tokens"], c["ended_with_eos"])


if __name__ == "__main__":
    main()
