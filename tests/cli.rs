//! The command-line tool's robustness options: each one changes what is evaluated, and bad values are usage errors.
#![forbid(unsafe_code)]

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

/// Runs the tool with `args` and returns the exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_motiongate")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn decimate_rates_that_are_not_a_rate_are_usage_errors_naming_the_flag() {
    for bad in ["0", "-1", "NaN", "inf", "1e-400", "1000.5", "1e300"] {
        let (code, err) = run(&["eval", EXCERPT, &format!("--decimate={bad}")]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("--decimate"), "{bad}: {err}");
    }
}

#[test]
fn train_flags_out_of_range_are_refused_before_any_data_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.mgm");
    let out = out.to_str().unwrap();
    for (flag, bad) in [
        ("--draws", "0"),
        ("--draws", "1000001"),
        ("--draws", "18446744073709551615"),
        ("--folds", "1"),
        ("--subclasses", "18446744073709551615,1,1,1,1"),
        ("--subclasses", "1,1,1,1,17"),
        ("--subclasses", "4,4,4,4,1"),
        ("--subclasses", "0,1,1,1,1"),
        ("--sparse-subclasses", "9223372036854775808,9223372036854775808,1,1,1"),
        ("--bins", "9"),
        ("--sparse-bins", "1000000000000"),
        ("--alpha", "NaN"),
        ("--alpha", "-1"),
        ("--sparse-alpha", "inf"),
        ("--transit-slow-weight", "1.5"),
        ("--transit-slow-weight", "NaN"),
        ("--dense-rate", "0"),
        ("--dense-rate", "NaN"),
        ("--decimate", "0"),
    ] {
        // The data path does not exist: a refusal that names the flag comes from the flag, not from loading.
        let (code, err) = run(&["train", "/nonexistent/data", "--out", out, &format!("{flag}={bad}")]);
        assert_eq!(code, Some(2), "{flag} {bad}: {err}");
        assert!(err.contains(flag), "{flag} {bad}: {err}");
    }
}

#[test]
fn sweep_refuses_the_options_it_would_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (out, json, card, dec) = (p("m.mgm"), p("x.json"), p("card.md"), p("d.csv"));
    for extra in [
        vec!["--json", json.as_str()],
        vec!["--card", card.as_str()],
        vec!["--decisions", dec.as_str()],
        vec!["--decimate", "20"],
        vec!["--rotate", "1"],
        vec!["--remove-gravity"],
    ] {
        let mut args = vec!["train", EXCERPT, "--out", out.as_str(), "--sweep"];
        args.extend(&extra);
        let (code, err) = run(&args);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(err.contains("--sweep") && err.contains(extra[0]), "{extra:?}: {err}");
    }
}

#[test]
fn more_folds_than_subjects_is_an_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.mgm");
    // The excerpt is one subject: two folds are already too many, and a huge count must not abort.
    for k in ["2", "18446744073709551615"] {
        let err = train_refused(&out, &["--folds", k]);
        assert!(err.contains("--folds") && err.contains("1 subjects"), "{k}: {err}");
        let err = train_refused(&out, &["--sweep", "--folds", k]);
        assert!(err.contains("--folds"), "sweep {k}: {err}");
    }
    assert!(!out.exists());
}

/// Runs `train` on the excerpt with `extra` options, expects the usage exit code (2) and returns the message.
fn train_refused(out: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["train", EXCERPT, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{extra:?}: {err}");
    err
}

#[test]
fn folds_grouped_by_dataset_are_counted_in_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.mgm");
    let err = train_refused(&out, &["--folds", "2", "--group-by", "dataset"]);
    assert!(err.contains("--folds") && err.contains("grouped by dataset") && err.contains("1 datasets"), "{err}");
    let err = train_refused(&out, &["--group-by", "person"]);
    assert!(err.contains("--group-by"), "{err}");
    assert!(!out.exists());
}

#[test]
fn oversized_model_and_key_files_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("huge.mgm");
    std::fs::File::create(&model).unwrap().set_len((16 << 20) + 1).unwrap();
    let (code, err) = run(&["eval", EXCERPT, "--model", model.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--model") && err.contains("larger than 16777216 bytes"), "{err}");
    let key = dir.path().join("key");
    std::fs::write(&key, vec![b'k'; 1025]).unwrap();
    let store = dir.path().join("consent.json");
    let (code, err) =
        run(&["consent", "status", "--store", store.to_str().unwrap(), "--key-file", key.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--key-file") && err.contains("larger than 1024 bytes"), "{err}");
    // A key of the largest length is read and accepted.
    std::fs::write(&key, vec![b'k'; 1024]).unwrap();
    let (code, err) =
        run(&["consent", "status", "--store", store.to_str().unwrap(), "--key-file", key.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn dataset_load_reports_are_printed_one_line_per_dataset() {
    // A WISDM-shaped folder whose clock goes back once and repeats once: both drops are reported on stderr.
    let dir = tempfile::tempdir().unwrap();
    let accel = dir.path().join("wisdm_copy/raw/phone/accel");
    std::fs::create_dir_all(&accel).unwrap();
    let mut body = String::new();
    for i in 0..400u64 {
        body.push_str(&format!("1600,A,{},0.1,{:.3},9.8;\n", 1_000_000_000 + i * 50_000_000, (i as f64 * 0.7).sin()));
    }
    body.push_str("1600,A,1000000000,0,0,9.8;\n1600,A,20950000000,0,0,9.8;\n");
    std::fs::write(accel.join("data_1600_accel_phone.txt"), body).unwrap();
    let (code, err) = run(&["eval", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("wisdm2019_phone_accel (")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("1 files, 1 traces, 400 samples")
            && lines[0].contains("1 samples whose time went back")
            && lines[0].contains("1 samples repeating the previous time"),
        "{err}"
    );
}

#[test]
fn classify_warns_when_the_input_holds_no_gravity() {
    let dir = tempfile::tempdir().unwrap();
    let trace = motiongate::trace::csv::read_trace_csv(Path::new(EXCERPT)).unwrap();
    // Linear acceleration from a source that does not say so (warned), and from one that does (expected: not).
    let mut removed = motiongate::offline::remove_gravity(&trace);
    let declared = dir.path().join("declared.csv");
    motiongate::trace::csv::write_trace_csv(&removed, std::fs::File::create(&declared).unwrap()).unwrap();
    removed.meta.gravity_removed = false;
    let linear = dir.path().join("linear.csv");
    motiongate::trace::csv::write_trace_csv(&removed, std::fs::File::create(&linear).unwrap()).unwrap();
    for (path, without_gravity, warned) in
        [(Path::new(EXCERPT), false, false), (declared.as_path(), true, false), (linear.as_path(), true, true)]
    {
        let out =
            Command::new(env!("CARGO_BIN_EXE_motiongate")).arg("classify").arg(path).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.contains("hold no gravity"), warned, "{}: {stderr}", path.display());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let windows = json[0]["windows"].as_u64().unwrap();
        let counted = json[0]["windows_without_gravity"].as_u64().unwrap();
        assert!(windows > 50, "{windows}");
        if without_gravity {
            // All but the windows refused unjudged (rest so quiet without gravity that it reads as a dead sensor).
            assert!(counted <= windows && counted * 10 >= windows * 9, "{counted} of {windows}");
        } else {
            assert_eq!(counted, 0);
        }
    }
}

#[test]
fn convert_keeps_traces_whose_names_collide() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::copy(EXCERPT, d.join("x.csv")).unwrap();
    }
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_motiongate"))
        .args(["convert", a.join("x.csv").to_str().unwrap(), b.join("x.csv").to_str().unwrap(), "--out"])
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[1].ends_with("_2.csv"), "{names:?}");
}

#[test]
fn features_quote_names_that_hold_commas() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(EXCERPT).unwrap();
    let renamed = text.replacen("# session: rec1_rows4500-16499", "# session: run,2 \"fast\"", 1);
    assert_ne!(renamed, text, "the excerpt's session line changed; update this test");
    let trace = dir.path().join("t.csv");
    std::fs::write(&trace, renamed).unwrap();
    let out = dir.path().join("f.csv");
    let status = Command::new(env!("CARGO_BIN_EXE_motiongate"))
        .arg("features")
        .arg(&trace)
        .arg("--out")
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut rows = csv::Reader::from_path(&out).unwrap();
    let width = rows.headers().unwrap().len();
    let mut n = 0;
    for r in rows.records() {
        let r = r.unwrap();
        assert_eq!(r.len(), width);
        assert_eq!(&r[2], "run,2 \"fast\"");
        n += 1;
    }
    assert!(n > 50, "{n}");
}

/// QUIRKS.md's trap: a model that learned "no gravity means a vehicle". With gravity removed from the excerpt (a
/// seated and lying person, then walking), its still windows must not turn into transit, and walking must stay
/// walking: such windows go to the gravity-free pair of classifiers (`Model::predict`), which learned every
/// recording blind to gravity's direction.
#[test]
fn removing_gravity_does_not_turn_rest_into_a_vehicle() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = eval(dir.path(), "nogravity", &["--remove-gravity"]);
    assert_eq!(code, Some(0));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let labels = json["confusion"]["labels"].as_array().unwrap();
    let col = |name: &str| labels.iter().position(|l| l == name).unwrap();
    let row = |name: &str| json["confusion"]["matrix"][col(name)].as_array().unwrap().clone();
    let count = |r: &[serde_json::Value], name: &str| r[col(name)].as_u64().unwrap();
    let (still, walking) = (row("still"), row("walking"));
    let still_total: u64 = still.iter().map(|v| v.as_u64().unwrap()).sum();
    let walking_total: u64 = walking.iter().map(|v| v.as_u64().unwrap()).sum();
    assert!(still_total >= 10 && walking_total >= 50, "{text}");
    // Measured: 2 of 16 still windows read as transit, 5 still, 9 `Unknown`; 55 of 62 walking windows walking.
    // (With the main pair judging these windows instead, most still windows are read as transit.)
    assert!(count(&still, "transit") * 8 <= still_total, "still read as transit: {text}");
    assert!(count(&still, "still") * 4 >= still_total, "{text}");
    assert!(count(&walking, "walking") * 10 >= walking_total * 8, "{text}");
    assert_eq!(count(&walking, "transit"), 0, "{text}");
}
