//! The command-line tool's robustness options: each one changes what is evaluated, and bad values are usage errors.

use std::path::Path;
use std::process::Command;

const EXCERPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");

/// Runs `motiongate eval EXCERPT [extra...] --json OUT` and returns the exit code and the JSON text.
fn eval(dir: &Path, name: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = dir.join(format!("{name}.json"));
    let status = Command::new(env!("CARGO_BIN_EXE_motiongate"))
        .arg("eval")
        .arg(EXCERPT)
        .args(extra)
        .arg("--json")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    (status.code(), std::fs::read_to_string(&out).unwrap_or_default())
}

#[test]
fn eval_robustness_options_change_the_evaluated_input() {
    let dir = tempfile::tempdir().unwrap();
    let (code, plain) = eval(dir.path(), "plain", &[]);
    assert_eq!(code, Some(0));
    assert!(plain.contains("macro_f1"), "{plain}");
    for (name, args) in [
        ("gravity", &["--remove-gravity"][..]),
        ("decimated", &["--decimate", "20"][..]),
        ("rotated", &["--rotate", "1"][..]),
    ] {
        let (code, text) = eval(dir.path(), name, args);
        assert_eq!(code, Some(0), "{name}");
        assert!(text.contains("macro_f1"), "{name}: {text}");
        // A rotation leaves orientation-invariant features almost unchanged, so it may give the same report; the
        // other two change the signal itself.
        if name != "rotated" {
            assert_ne!(text, plain, "{name} did not change the evaluation");
        }
    }
}

#[test]
fn eval_refuses_bad_option_values_as_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [("bad-rate", &["--decimate", "fast"][..]), ("bad-seed", &["--rotate", "-3"][..])] {
        let (code, _) = eval(dir.path(), name, args);
        assert_eq!(code, Some(2), "{name}");
    }
}
