"""METEOR 1.5 reference scores from pycocoevalcap for acdc's METEOR bridge test.

    pip install pycocoevalcap==1.2      # ships meteor-1.5.jar; needs java on PATH
    python3 tools/meteor_fixture.py     # from the repository root

Two parts, both written to tests/fixtures/caption_metrics/meteor.json:
  * "items" / "corpus": five inputs already tokenized (lower-case, space-joined), fed straight to
    Meteor, so the test checks the jar protocol only;
  * "ptb_items" / "ptb_corpus": the varied captioning items of tools/caption_metrics_fixture.py
    (ITEMS: punctuation, case, contractions, hyphens, numbers, non-ASCII, an empty and a 500+ word
    candidate, duplicated references, ...) scored the way COCOEvalCap scores them: pycocoevalcap's
    PTBTokenizer (Java, -preserveLines -lowerCase, PUNCTUATIONS removed) on references and
    candidates, then Meteor. acdc's `meteor_captions(.., CaptionTokenizer::Ptb)` must match it.
"""
import json
import os
import sys

from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from caption_metrics_fixture import ITEMS as CAPTION_ITEMS  # noqa: E402

ITEMS = [
    ("a", "a dog barks twice then a bell rings", ["a dog barks two times before a bell rings", "barking from a dog followed by a ringing bell"]),
    ("b", "rain falls while wind blows", ["rain is falling as the wind howls", "wind and rain"]),
    ("c", "a siren wails in the distance", ["a siren wails in the distance", "a distant siren sweeps up and down"]),
    ("d", "footsteps", ["someone walks on a wooden floor"]),
    ("e", "an engine hums and a car passes by quickly", ["a car engine idles", "a vehicle passes by", "an engine is humming"]),
]

gts = {i: refs for i, _, refs in ITEMS}
res = {i: [c] for i, c, _ in ITEMS}
m = Meteor()
corpus, per_item = m.compute_score(gts, res)

# As COCOEvalCap: PTB-tokenize references and candidates, then score.
tok = PTBTokenizer()
ptb_gts = tok.tokenize({i: [{"caption": r} for r in refs] for i, _, refs in CAPTION_ITEMS})
ptb_res = tok.tokenize({i: [{"caption": c}] for i, c, _ in CAPTION_ITEMS})
ptb_corpus, ptb_per_item = m.compute_score(ptb_gts, ptb_res)

out = {
    "source": "pycocoevalcap 1.2 Meteor (meteor-1.5.jar, -l en -norm); items: tokens as given; "
              "ptb_items: tools/caption_metrics_fixture.py ITEMS through pycocoevalcap's PTBTokenizer first",
    "items": [{"id": i, "candidate": c, "references": refs, "meteor": s} for (i, c, refs), s in zip(ITEMS, per_item)],
    "corpus": corpus,
    "ptb_items": [
        {"id": i, "candidate": c, "references": refs, "ptb_candidate": ptb_res[i][0],
         "ptb_references": ptb_gts[i], "meteor": float(s)}
        for (i, c, refs), s in zip(CAPTION_ITEMS, ptb_per_item)
    ],
    "ptb_corpus": float(ptb_corpus),
}
with open("tests/fixtures/caption_metrics/meteor.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
print(out["corpus"], out["ptb_corpus"], len(out["ptb_items"]))
