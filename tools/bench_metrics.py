#!/usr/bin/env python3
"""The pycocoevalcap side of tools/bench_metrics.sh.

    python3 tools/bench_metrics.py make OUT.json     # 975 items x 5 references (AudioCaps-test scale)
    python3 tools/bench_metrics.py bench IN.json [--repeats 3]

The captions are generated from a fixed vocabulary with random.Random(0): sound-event phrases with
punctuation, case, contractions, hyphens and numbers, 6-20 words. `bench` times what COCOEvalCap does
for BLEU + ROUGE-L + CIDEr-D: PTBTokenizer (Stanford CoreNLP through java, as pycocoevalcap runs it)
on candidates and references, then Bleu(4), Rouge(), Cider(); median of `repeats` wall-clock runs,
printed as one JSON line. Needs: pip install pycocoevalcap==1.2, java on PATH.
"""

import json
import random
import statistics
import sys
import time

SUBJ = ["a dog", "the man", "a woman", "children", "birds", "a car", "the engine", "rain", "a crowd",
        "water", "a bell", "someone", "the wind", "a baby", "traffic", "a train", "people", "a cat"]
VERB = ["barks", "speaks", "is laughing", "chirp", "passes by", "revs", "falls", "cheers", "flows",
        "rings", "whistles", "blows", "cries", "hums", "honks", "talk", "meows", "is typing"]
TAIL = ["loudly", "in the distance", "nearby", "while music plays", "and a door closes",
        "over a low hum", "twice", "for 3 seconds", "as cars pass", "in a large room", "outside",
        "then stops", "near a busy road", "with some echo", "non-stop", "and it's raining"]


def sentence(r):
    s = f"{r.choice(SUBJ)} {r.choice(VERB)} {r.choice(TAIL)}"
    if r.random() < 0.5:
        s += f", {r.choice(['while', 'and', 'as'])} {r.choice(SUBJ)} {r.choice(VERB)}"
    if r.random() < 0.3:
        s += f" {r.choice(TAIL)}"
    s = s[0].upper() + s[1:] if r.random() < 0.7 else s
    return s + r.choice([".", "", "!", " ."])


def make(out):
    r = random.Random(0)
    items = [{"id": f"clip{i:04d}", "candidate": sentence(r),
              "references": [sentence(r) for _ in range(5)]} for i in range(975)]
    json.dump(items, open(out, "w"))


def bench(path, repeats):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    items = json.load(open(path))
    gts = {it["id"]: [{"caption": c} for c in it["references"]] for it in items}
    res = {it["id"]: [{"caption": it["candidate"]}] for it in items}

    def once():
        tok = PTBTokenizer()
        g, r = tok.tokenize(gts), tok.tokenize(res)
        out = {}
        b, _ = Bleu(4).compute_score(g, r)
        out.update({f"bleu_{i + 1}": v for i, v in enumerate(b)})
        out["rouge_l"], _ = Rouge().compute_score(g, r)
        out["cider_d"], _ = Cider().compute_score(g, r)
        return out

    times, scores = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        scores = once()
        times.append(time.perf_counter() - t)
    print(json.dumps({"impl": "pycocoevalcap", "items": len(items), "seconds": statistics.median(times),
                      "corpus": scores}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        rep = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
        bench(sys.argv[2], rep)
