//! `acdc eval`: score a done run on a new set and print what was recorded.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::exec::score_set::{score_set, NewSet};

pub fn eval(home: &Path, run: &str, set: &NewSet, json: bool) -> Result<String> {
    let mut store = super::open_existing(home)?;
    let done = score_set(&mut store, run, set)?;
    if json {
        return Ok(serde_json::to_string_pretty(&done)? + "\n");
    }
    let mut out = format!(
        "run {}: set `{}` scored and recorded\n",
        done.run_id, done.set
    );
    for s in &done.scores {
        writeln!(
            out,
            "  {:<28} {:<20} {:>10.4}  (n={})",
            s.task, s.metric, s.value, s.n
        )?;
    }
    if done.truncated_outputs > 0 {
        writeln!(
            out,
            "{} output(s) hit decode.max_new_tokens before an end of turn and were scored cut off",
            done.truncated_outputs
        )?;
    }
    Ok(out)
}
