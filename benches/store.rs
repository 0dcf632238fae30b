//! The store against MLflow (issue 17 item 6): logging step metrics in batches, then listing and
//! reporting an experiment of many runs. `tools/bench_store.sh` runs this beside
//! `tools/bench_store_mlflow.py` (MLflow 3 on its SQLite backend) with the same workload, on the
//! same machine, and prints the ratios.
//!
//! Workload: `STORE_BENCH_RUNS` runs (1000) of one experiment (a spec swept over seeds), each
//! logging `STORE_BENCH_STEPS` steps (50) × 4 metrics (loss, lr, grad_norm, tokens_per_s) in
//! batches of `STORE_BENCH_BATCH` points (200, what the trainer flushes at), then 6 scores and
//! its end. Timed: the logging (points per second, batches included), `acdc ls --experiment` and
//! `acdc report` of the experiment (the binary, as a user runs them; median of 3).
//!
//! Run: `cargo bench --bench store`. Prints one `RESULT {json}` line.

use std::process::Command;
use std::time::Instant;

use acdc::store::records::EvalScore;
use acdc::store::runs::WorkerInfo;
use acdc::store::Store;
use support::num;

mod support;

fn main() {
    let runs = num("STORE_BENCH_RUNS", 1000);
    let steps = num("STORE_BENCH_STEPS", 50);
    let batch = num("STORE_BENCH_BATCH", 200).max(1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let home = dir.path().join("home");
    let seeds: Vec<String> = (0..runs).map(|s| s.to_string()).collect();
    let spec = dir.path().join("bench.toml");
    std::fs::write(
        &spec,
        format!(
            "max_runs = {runs}\n[experiment]\nname = \"bench\"\n[defaults]\nbackbone = \"builtin:tiny\"\n[sweep]\nseeds = [{}]\n",
            seeds.join(", ")
        ),
    )
    .expect("the spec is written");
    let plan = acdc::spec::expand(&acdc::spec::load_with(&spec, None, &[]).expect("a valid spec"))
        .expect("a grid");
    let mut store = Store::open_home(&home).expect("a store");
    store
        .register_plan(&plan, &spec.display().to_string())
        .expect("registered");
    let me = WorkerInfo::current();
    let names = ["loss", "lr", "grad_norm", "tokens_per_s"];
    let mut logging = 0.0;
    let mut points = 0usize;
    for (i, r) in plan.runs.iter().enumerate() {
        let claim = store
            .claim(&r.run_id, &me, false)
            .expect("claimable")
            .expect("pending");
        let all: Vec<(u64, String, f64)> = (1..=steps as u64)
            .flat_map(|s| {
                names
                    .iter()
                    .enumerate()
                    .map(move |(k, n)| (s, n.to_string(), (i * 7 + k) as f64 / s as f64))
            })
            .collect();
        let t = Instant::now();
        for chunk in all.chunks(batch) {
            store.log_steps(&r.run_id, chunk).expect("logged");
        }
        logging += t.elapsed().as_secs_f64();
        points += all.len();
        let scores: Vec<EvalScore> = ["bleu_4", "cider_d", "rouge_l"]
            .iter()
            .chain(["token_f1", "exact_match", "accuracy"].iter())
            .enumerate()
            .map(|(k, m)| EvalScore {
                task: if k < 3 {
                    "synth_test/aac"
                } else {
                    "synth_test/aqa"
                }
                .into(),
                metric: m.to_string(),
                value: ((i + k) % 97) as f64 / 97.0,
                n: 40,
            })
            .collect();
        store.put_evals(&r.run_id, &scores).expect("scores");
        store.finish_run(&claim, None).expect("finished");
    }
    drop(store);
    let timed = |args: &[&str]| -> f64 {
        let mut t = Vec::new();
        for _ in 0..3 {
            let s = Instant::now();
            let o = Command::new(env!("CARGO_BIN_EXE_acdc"))
                .args(args)
                .env("ACDC_HOME", &home)
                .current_dir(dir.path())
                .output()
                .expect("acdc runs");
            assert!(
                o.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            t.push(s.elapsed().as_secs_f64());
        }
        t.sort_by(f64::total_cmp);
        t[1]
    };
    let ls = timed(&["ls", "--experiment", "bench"]);
    let report = timed(&["report", "bench", "--out", "report"]);
    println!(
        "RESULT {}",
        serde_json::json!({
            "impl": "acdc", "runs": runs, "points": points, "batch": batch,
            "log_points_per_s": points as f64 / logging, "log_s": logging,
            "ls_s": ls, "report_s": report,
        })
    );
}
