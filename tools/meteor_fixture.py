"""METEOR 1.5 reference scores from pycocoevalcap for acdc's METEOR bridge test.

    pip install pycocoevalcap==1.2      # ships meteor-1.5.jar; needs java on PATH
    python3 tools/meteor_fixture.py     # from the repository root

Inputs are already tokenized (lower-case, space-joined) so the test checks the jar protocol only.
Writes tests/fixtures/caption_metrics/meteor.json.
"""
import json

from pycocoevalcap.meteor.meteor import Meteor

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
out = {
    "source": "pycocoevalcap 1.2 Meteor (meteor-1.5.jar, -l en -norm), tokens as given",
    "items": [{"id": i, "candidate": c, "references": refs, "meteor": s} for (i, c, refs), s in zip(ITEMS, per_item)],
    "corpus": corpus,
}
with open("tests/fixtures/caption_metrics/meteor.json", "w") as f:
    json.dump(out, f, indent=1)
print(out["corpus"])
