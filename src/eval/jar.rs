//! Where the official Java scorers (METEOR 1.5, SPICE 1.0) come from: the `java` to run them with
//! and the jar a configuration or the environment names. A jar that is named is used even when it
//! is not there, so that a wrong path fails loudly (naming the variable that gave it) instead of
//! leaving the metric quietly unavailable.

use std::path::{Path, PathBuf};

/// The java executable: `ACDC_JAVA`, else `java` on PATH.
pub fn java() -> PathBuf {
    std::env::var_os("ACDC_JAVA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// The path the environment variable `env` holds; none when it is unset or blank.
fn env_path(env: &str) -> Option<PathBuf> {
    std::env::var_os(env)
        .filter(|v| !v.to_string_lossy().trim().is_empty())
        .map(PathBuf::from)
}

/// The jar the environment variable `env` names: none when it is unset or blank, an error naming
/// the variable and the path when no file is there.
pub fn env_jar(env: &str) -> Result<Option<PathBuf>, String> {
    match env_path(env) {
        None => Ok(None),
        Some(p) if p.is_file() => Ok(Some(p)),
        Some(p) if p.exists() => Err(format!("{env} names {}, which is not a file", p.display())),
        Some(p) => Err(format!("{env} names {}, which does not exist", p.display())),
    }
}

/// The jar a configuration key names, else the one the environment variable `env` names (both
/// used even when missing, so that they fail loudly: see [`missing_jar`]), else none.
pub fn configured_jar(configured: &str, env: &str) -> Option<PathBuf> {
    if configured.trim().is_empty() {
        env_path(env)
    } else {
        Some(PathBuf::from(configured.trim()))
    }
}

/// Why `jar` (which does not exist) cannot be used: "no such file", naming the variable `env`
/// when that is where the path came from.
pub fn missing_jar(jar: &Path, env: &str) -> String {
    if env_path(env).is_some_and(|p| p == jar) {
        format!("no such file (named by {env})")
    } else {
        "no such file".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Environment variables are process-wide: these tests use names of their own.
    #[test]
    fn a_variable_naming_a_missing_jar_is_an_error_naming_both() {
        let var = "ACDC_TEST_JAR_MISSING";
        std::env::set_var(var, "/nonexistent/meteor-1.5.jar");
        let e = env_jar(var).unwrap_err();
        assert!(
            e.contains(var) && e.contains("/nonexistent/meteor-1.5.jar"),
            "{e}"
        );
        // The eval stage takes it too, and fails naming the variable.
        let jar = configured_jar("", var).unwrap();
        assert_eq!(
            missing_jar(&jar, var),
            format!("no such file (named by {var})")
        );
        // A configured path wins, and is not blamed on the variable.
        let other = configured_jar(" /x/m.jar ", var).unwrap();
        assert_eq!(other, PathBuf::from("/x/m.jar"));
        assert_eq!(missing_jar(&other, var), "no such file");
        std::env::remove_var(var);
    }

    #[test]
    fn an_unset_or_blank_variable_is_no_jar_and_a_present_one_is_used() {
        let var = "ACDC_TEST_JAR_PRESENT";
        std::env::remove_var(var);
        assert_eq!(env_jar(var), Ok(None));
        assert_eq!(configured_jar("", var), None);
        std::env::set_var(var, " ");
        assert_eq!(env_jar(var), Ok(None));
        let d = tempfile::tempdir().unwrap();
        let e = env_jar_of(var, d.path()).unwrap_err();
        assert!(e.contains("not a file"), "{e}");
        let jar = d.path().join("spice-1.0.jar");
        std::fs::write(&jar, b"").unwrap();
        assert_eq!(env_jar_of(var, &jar), Ok(Some(jar.clone())));
        std::env::remove_var(var);
    }

    fn env_jar_of(var: &str, p: &Path) -> Result<Option<PathBuf>, String> {
        std::env::set_var(var, p);
        env_jar(var)
    }
}
