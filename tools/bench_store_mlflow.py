#!/usr/bin/env python3
"""The MLflow side of tools/bench_store.sh: the workload of benches/store.rs on MLflow 3 with its
SQLite backend (a tracking URI `sqlite:///…`, no server), in one process.

    python tools/bench_store_mlflow.py [--runs 1000] [--steps 50] [--batch 200]

Each of RUNS runs of one experiment logs STEPS steps x 4 metrics (loss, lr, grad_norm,
tokens_per_s) with MlflowClient.log_batch in batches of BATCH metrics, then 6 scores (as
metrics) and ends. Timed: the step-metric logging (points per second), and listing the
experiment's runs with their latest metrics (search_runs, max_results=RUNS; median of 3), which
is what `acdc ls` and the data behind `acdc report` read. Prints one JSON line.

Needs: pip install "mlflow>=3,<4" (tools/bench_store.sh makes a venv for it).
"""

import argparse
import json
import statistics
import tempfile
import time

import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        uri = f"sqlite:///{d}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(tracking_uri=uri)
        exp = client.create_experiment("bench", artifact_location=f"{d}/artifacts")
        names = ["loss", "lr", "grad_norm", "tokens_per_s"]
        scores = ["bleu_4", "cider_d", "rouge_l", "token_f1", "exact_match", "accuracy"]
        logging, points = 0.0, 0
        now = int(time.time() * 1000)
        for i in range(args.runs):
            run = client.create_run(exp, run_name=f"seed={i}")
            rid = run.info.run_id
            ms = [Metric(n, (i * 7 + k) / s, now, s) for s in range(1, args.steps + 1)
                  for k, n in enumerate(names)]
            t = time.perf_counter()
            for j in range(0, len(ms), args.batch):
                client.log_batch(rid, metrics=ms[j:j + args.batch])
            logging += time.perf_counter() - t
            points += len(ms)
            client.log_batch(rid, metrics=[Metric(f"synth_test/{m}", ((i + k) % 97) / 97, now, 0)
                                           for k, m in enumerate(scores)])
            client.set_terminated(rid, "FINISHED")
        def listing():
            t = time.perf_counter()
            runs = client.search_runs([exp], max_results=args.runs)
            assert len(runs) == args.runs, len(runs)
            return time.perf_counter() - t
        ls = statistics.median(listing() for _ in range(3))
        print(json.dumps({
            "impl": "mlflow", "version": mlflow.__version__, "runs": args.runs, "points": points,
            "batch": args.batch, "log_points_per_s": points / logging, "log_s": logging,
            "search_runs_s": ls,
        }))


if __name__ == "__main__":
    main()
