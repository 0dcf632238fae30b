"""Write small AudioBench-style parquet files for acdc's reader tests.

AudioBench publishes its QA sets on the Hugging Face hub as parquet with an Audio column
(`context`, a struct {bytes, path}), `instruction`, `answer` and `other_attributes`. This script
writes the same schema with three short synthetic clips (WAV bytes), plus one file that lacks
the `answer` column (the reader must refuse it, naming the file).

    pip install pyarrow==26.0.1
    python3 tools/aqa_parquet_fixture.py   # from the repository root
"""
import io
import math
import struct

import pyarrow as pa
import pyarrow.parquet as pq

OUT = "tests/fixtures/aqa"


def wav_bytes(freq, seconds=0.1, rate=16000):
    n = int(seconds * rate)
    data = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return hdr + b"data" + struct.pack("<I", len(data)) + data


audio_t = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
rows = [
    ({"bytes": wav_bytes(440), "path": "clip_a.wav"}, "What sound is it?", "A tone."),
    ({"bytes": wav_bytes(880), "path": "clip_b.wav"}, "Is it high or low?", "High."),
    ({"bytes": wav_bytes(220), "path": None}, "How many sounds?", "One."),
]
table = pa.table(
    {
        "context": pa.array([r[0] for r in rows], type=audio_t),
        "instruction": [r[1] for r in rows],
        "answer": [r[2] for r in rows],
        "other_attributes": [json for json in ['{"k": 1}', "{}", "{}"]],
    }
)
pq.write_table(table, f"{OUT}/test-00000-of-00001.parquet", compression="snappy")
bad = table.drop(["answer"])
pq.write_table(bad, f"{OUT}/broken-00000-of-00001.parquet", compression="zstd")
print("wrote", OUT)
