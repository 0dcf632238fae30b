//! The CUDA build's device check, run where `.ci/run` builds `--features cuda` (a machine without
//! an NVIDIA GPU): asking for the cuda device is an error that names the device and the missing
//! driver, never a panic. On a machine with a GPU and its driver the same command runs.
#![cfg(feature = "cuda")]

mod common;

use std::path::Path;
use std::process::Command;

fn has_nvidia_driver() -> bool {
    [
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "/usr/lib64/libcuda.so.1",
        "/usr/local/nvidia/lib64/libcuda.so.1",
        "/usr/lib/wsl/lib/libcuda.so.1",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

#[test]
fn asking_for_cuda_without_a_driver_is_an_error_that_names_it() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args([
            "lm",
            "bench",
            "--model",
            "builtin:tiny",
            "--device",
            "cuda",
            "--batch",
            "1",
            "--beams",
            "1",
            "--prompt-len",
            "4",
            "--new-tokens",
            "2",
            "--repeats",
            "1",
        ])
        .env("ACDC_HOME", d.path())
        .output()
        .unwrap();
    let err = common::stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    if has_nvidia_driver() {
        assert!(o.status.success(), "{err}");
    } else {
        assert!(!o.status.success());
        assert!(
            err.contains("device `cuda`") && err.contains("libcuda.so.1"),
            "{err}"
        );
    }
}
