//! Where the official Java scorers (METEOR 1.5, SPICE 1.0) come from: the `java` to run them with
//! and the jar a configuration or the environment names.

use std::path::PathBuf;

/// The java executable: `ACDC_JAVA`, else `java` on PATH.
pub fn java() -> PathBuf {
    std::env::var_os("ACDC_JAVA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// The jar a configuration key names (used even when missing, so that it fails loudly), else the
/// one the environment variable `env` names if it exists, else none.
pub fn configured_jar(configured: &str, env: &str) -> Option<PathBuf> {
    if configured.trim().is_empty() {
        std::env::var_os(env)
            .map(PathBuf::from)
            .filter(|p| p.exists())
    } else {
        Some(PathBuf::from(configured.trim()))
    }
}
