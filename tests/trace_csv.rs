//! The canonical trace CSV: round trips and every bad input giving its typed error (feature `offline`).
#![cfg(feature = "offline")]
#![forbid(unsafe_code)]

mod common;

use std::io::Write;

use motiongate::trace::csv::{read_trace_csv, read_trace_csv_from, write_trace_csv, ReadError};
use motiongate::trace::{Trace, TraceMeta};
use motiongate::{Label, Sample};
use proptest::prelude::*;

fn meta() -> TraceMeta {
    TraceMeta {
        dataset: "hapt_kcc2020".into(),
        subject: "user01".into(),
        session: "rec1".into(),
        source: "somewhere/user01_rec1.csv.gz".into(),
        gravity_removed: true,
    }
}

fn sample_trace() -> Trace {
    let samples = vec![
        Sample::with_gyro(1_000_000_001, [0.1, -9.80665, 3.0e-7], [0.5, -0.25, 1e-3]),
        Sample::accel(1_020_000_000, 1.0, 2.0, 3.0),
        Sample::with_gyro(1_040_000_000, [-150.0, 150.0, 0.0], [39.0, -39.0, 0.0]),
    ];
    Trace { meta: meta(), samples, labels: vec![Some(Label::Walking), None, Some(Label::Other)] }
}

fn round_trip(t: &Trace) -> Trace {
    let mut buf = Vec::new();
    write_trace_csv(t, &mut buf).unwrap();
    read_trace_csv_from(buf.as_slice(), "mem.csv").unwrap()
}

fn assert_same(a: &Trace, b: &Trace) {
    assert_eq!(a.meta, b.meta);
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.labels, b.labels);
}

#[test]
fn round_trip_keeps_samples_labels_and_meta() {
    let t = sample_trace();
    assert_same(&t, &round_trip(&t));
    // Unlabelled, accel only.
    let mut u = sample_trace();
    u.labels.clear();
    u.samples.iter_mut().for_each(|s| s.gyro = None);
    u.samples[0].t_ns = -5;
    assert_same(&u, &round_trip(&u));
}

#[test]
fn round_trip_through_files_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample_trace();
    let plain = dir.path().join("t.csv");
    write_trace_csv(&t, std::fs::File::create(&plain).unwrap()).unwrap();
    assert_same(&t, &read_trace_csv(&plain).unwrap());
    let gz = dir.path().join("t.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    write_trace_csv(&t, &mut enc).unwrap();
    enc.finish().unwrap();
    assert_same(&t, &read_trace_csv(&gz).unwrap());
    // A truncated gzip stream is a typed error.
    let bytes = std::fs::read(&gz).unwrap();
    let cut = dir.path().join("cut.csv.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_trace_csv(&cut).unwrap_err();
    assert!(matches!(e, ReadError::Truncated { .. }), "{e}");
}

#[test]
fn plain_file_without_meta_uses_defaults() {
    let t = read_trace_csv_from("t,ax,ay,az\n0.5,0,0,9.8\n".as_bytes(), "x.csv").unwrap();
    assert_eq!(t.meta.dataset, "trace");
    assert_eq!(t.meta.source, "x.csv");
    assert_eq!((t.meta.subject.as_str(), t.meta.session.as_str()), ("x", "x"));
    assert_eq!(t.samples[0].t_ns, 500_000_000);
    assert!(!t.is_labelled());
}

fn err(text: &[u8]) -> ReadError {
    read_trace_csv_from(text, "data/x.csv").unwrap_err()
}

fn assert_parse(e: ReadError, want_line: u64, want_field: &str, want_token: &str) {
    match &e {
        ReadError::Parse { file, line, field, token, .. } => {
            assert_eq!(
                (file.as_str(), *line, field.as_str(), token.as_str()),
                ("data/x.csv", want_line, want_field, want_token),
                "{e}"
            );
        }
        other => panic!("expected Parse, got {other:?}"),
    }
}

const H: &str = "t,ax,ay,az,gx,gy,gz,label\n";

#[test]
fn message_names_file_line_field_and_token() {
    let e = err(format!("{H}0,1,1.2.3,1,,,,\n").as_bytes());
    assert_eq!(e.to_string(), "data/x.csv:2: field 'ay': cannot parse \"1.2.3\" as a number");
}

#[test]
fn nan_and_inf() {
    assert_parse(err(format!("{H}0,1,2,3,,,,\n1,NaN,2,3,,,,\n").as_bytes()), 3, "ax", "NaN");
    assert_parse(err(format!("{H}0,1,2,inf,,,,\n").as_bytes()), 2, "az", "inf");
    assert_parse(err(format!("{H}0,1,2,3,0,-inf,0,\n").as_bytes()), 2, "gy", "-inf");
}

#[test]
fn absurd_magnitude() {
    assert_parse(err(format!("{H}0,1,1e6,3,,,,\n").as_bytes()), 2, "ay", "1e6");
    assert_parse(err(format!("{H}0,1,2,3,0,0,1000,\n").as_bytes()), 2, "gz", "1000");
}

#[test]
fn time_backwards_and_repeated() {
    let e = err(format!("# c\n{H}1,0,0,9.8,,,,\n2,0,0,9.8,,,,\n1.5,0,0,9.8,,,,\n").as_bytes());
    assert!(matches!(&e, ReadError::TimeBackwards { line: 5, file } if file == "data/x.csv"), "{e:?}");
    let e = err(format!("{H}1,0,0,9.8,,,,\n1.000000000,0,0,9.8,,,,\n").as_bytes());
    assert!(matches!(e, ReadError::TimeRepeated { line: 3, .. }), "{e:?}");
    assert_parse(err(format!("{H}abc,0,0,9.8,,,,\n").as_bytes()), 2, "t", "abc");
}

#[test]
fn empty_and_header_only() {
    assert!(matches!(err(b""), ReadError::Empty { .. }));
    assert!(matches!(err(b"# only a comment\n"), ReadError::Empty { .. }));
    assert!(matches!(err(H.as_bytes()), ReadError::Empty { .. }));
    assert!(matches!(err(b"# dataset: x\nt,ax,ay,az\n\n"), ReadError::Empty { .. }));
    let e = err(b"time,x,y,z\n1,2,3,4\n");
    assert!(matches!(e, ReadError::Header { line: 1, .. }), "{e:?}");
}

#[test]
fn truncated_last_line_and_wrong_column_count() {
    let e = err(format!("{H}0,0,0,9.8,,,,walking\n0.02,0,0,9").as_bytes());
    assert!(matches!(e, ReadError::Truncated { line: 3, .. }), "{e:?}");
    // A last line without a line end is refused even when its field count is right: `9.8` cut to `9.` and a cut
    // label still parse, so the reader cannot tell a complete line from a cut one.
    for cut in ["0,0,0,9.", "0,0,0,9.8,,,,", "0,0,0,9.8,,,,walking"] {
        let e = err(format!("{H}{cut}").as_bytes());
        assert!(matches!(e, ReadError::Truncated { line: 2, .. }), "{cut}: {e:?}");
        assert!(e.to_string().contains("line end"), "{e}");
    }
    let t = read_trace_csv_from(format!("{H}0,0,0,9.8,,,,walking\n").as_bytes(), "x").unwrap();
    assert_eq!(t.labels, vec![Some(Label::Walking)]);
    let e = err(format!("{H}0,0,0,9.8,,,,walking\n0.02,0,0\n0.04,0,0,9.8,,,,\n").as_bytes());
    assert!(matches!(e, ReadError::ColumnCount { line: 3, expected: 8, found: 3, .. }), "{e:?}");
    let e = err(b"t,ax,ay,az\n0,0,0,9.8,1\n");
    assert!(matches!(e, ReadError::ColumnCount { line: 2, expected: 4, found: 5, .. }), "{e:?}");
}

#[test]
fn partial_gyro_is_refused() {
    assert_parse(err(format!("{H}0,0,0,9.8,0.1,,0.2,\n").as_bytes()), 2, "gy", "");
}

#[test]
fn non_utf8() {
    let mut v = format!("{H}0,0,0,9.8,,,,\n").into_bytes();
    v.extend_from_slice(b"0.02,0,0,9.8,,,,walk\xFFing\n");
    assert!(matches!(err(&v), ReadError::NotUtf8 { line: 3, .. }));
}

#[test]
fn unknown_label() {
    let e = err(format!("{H}0,0,0,9.8,,,,jogging\n").as_bytes());
    assert!(matches!(&e, ReadError::UnknownLabel { line: 2, token, .. } if token == "jogging"), "{e:?}");
    let e = err(format!("{H}0,0,0,9.8,,,,Walking\n").as_bytes());
    assert!(matches!(e, ReadError::UnknownLabel { line: 2, .. }));
}

#[test]
fn one_mebibyte_line_is_refused_without_reading_it_all() {
    let mut v = format!("{H}0,0,0,9.8,,,,\n").into_bytes();
    v.extend(std::iter::repeat_n(b'1', 1 << 20));
    v.push(b'\n');
    let e = err(&v);
    assert!(matches!(e, ReadError::LineTooLong { line: 3, limit: 65_536, .. }), "{e:?}");
}

#[test]
fn bad_meta_value() {
    let e = err(b"# gravity_removed: maybe\nt,ax,ay,az\n0,0,0,9.8\n");
    assert_parse(e, 1, "gravity_removed", "maybe");
}

#[test]
fn readme_excerpt_reads_back() {
    let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv"));
    let t = read_trace_csv(p).unwrap();
    assert_eq!(t.samples.len(), motiongate::datasets::hapt::EXCERPT_ROWS);
    assert_eq!(t.meta.dataset, "hapt_kcc2020");
    assert_eq!(t.samples[0].t_ns, motiongate::datasets::hapt::EXCERPT_FIRST_ROW as i64 * 20_000_000);
    assert!(std::fs::metadata(p).unwrap().len() < 700_000);
    // Same as regenerating it from the dataset, when the data is here.
    if let Some(root) = common::shared_data_dir() {
        let mut buf = Vec::new();
        let ex = motiongate::datasets::hapt::write_excerpt(&root.join("hapt_kcc2020"), &mut buf).unwrap();
        assert_same(&ex, &t);
        assert_eq!(buf, std::fs::read(p).unwrap());
    }
}

/// Regenerates `data/hapt_user01_rec1_excerpt.csv` from `../shared/data` (run with `--ignored`).
#[test]
#[ignore]
fn regenerate_readme_excerpt() {
    let Some(root) = common::shared_data_dir() else { return };
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    let mut f = std::fs::File::create(p).unwrap();
    motiongate::datasets::hapt::write_excerpt(&root.join("hapt_kcc2020"), &mut f).unwrap();
    f.flush().unwrap();
}

fn label_strategy() -> impl Strategy<Value = Option<Label>> {
    prop_oneof![Just(None), proptest::sample::select(Label::ALL.to_vec()).prop_map(Some)]
}

fn finite(max: f32) -> impl Strategy<Value = f32> {
    prop_oneof![-max..=max, Just(0.0f32), Just(-0.0f32), Just(f32::MIN_POSITIVE), Just(max), Just(-max)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn prop_round_trip(
        t0 in -4_000_000_000_000_000_000i64..4_000_000_000_000_000_000i64,
        rows in proptest::collection::vec(
            // Intervals of 1 ms..=1 s (any nanosecond in between): the reader refuses a median interval outside
            // that range as times in the wrong unit (`times_in_the_wrong_unit_are_refused_with_the_median_interval`).
            (1_000_000i64..=1_000_000_000, [finite(156.0), finite(156.0), finite(156.0)],
             proptest::option::of([finite(39.0), finite(39.0), finite(39.0)]), label_strategy()),
            1..40),
        labelled in any::<bool>(),
        subject in "[a-zA-Z0-9_ -]{0,12}",
        gravity_removed in any::<bool>(),
    ) {
        let mut t_ns = t0;
        let mut samples = Vec::new();
        let mut labels = Vec::new();
        for (dt, a, g, l) in rows {
            t_ns += dt;
            samples.push(Sample { t_ns, accel: a.into(), gyro: g.map(Into::into) });
            labels.push(l);
        }
        if !labelled { labels.clear(); }
        let subject = subject.trim().to_string();
        let subject = if subject.is_empty() { "s".to_string() } else { subject };
        let meta = TraceMeta { dataset: "d".into(), subject, session: "x y".into(), source: "a/b.csv".into(), gravity_removed };
        let t = Trace { meta, samples, labels };
        let back = round_trip(&t);
        prop_assert_eq!(&t.meta, &back.meta);
        prop_assert_eq!(&t.samples, &back.samples);
        prop_assert_eq!(&t.labels, &back.labels);
    }
}

#[test]
fn times_beyond_2_pow_62_ns_are_refused_naming_file_and_line() {
    // 9e9 s is 9e18 ns: differences of such times overflow i64, so the reader refuses them.
    let e = err(format!("{H}0,0,0,9.8,,,,\n9000000000,0,0,9.8,,,,\n").as_bytes());
    assert!(
        matches!(&e, ReadError::TimeOutOfRange { file, line: 3, field, .. } if file == "data/x.csv" && field == "t"),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("data/x.csv:3: field 't'"), "{e}");
    let e = err(format!("{H}-9000000000,0,0,9.8,,,,\n").as_bytes());
    assert!(matches!(e, ReadError::TimeOutOfRange { line: 2, .. }), "{e:?}");
    // The bound itself is accepted (2^62 ns = 4611686018.427387904 s), one nanosecond more is not.
    let ok = read_trace_csv_from(format!("{H}0,0,0,9.8,,,,\n4611686018.427387904,0,0,9.8,,,,\n").as_bytes(), "x");
    assert_eq!(ok.unwrap().samples[1].t_ns, 1i64 << 62);
    let e = err(format!("{H}0,0,0,9.8,,,,\n4611686018.427387905,0,0,9.8,,,,\n").as_bytes());
    assert!(matches!(e, ReadError::TimeOutOfRange { line: 3, .. }), "{e:?}");
}

/// `n` rows, `step` apart (decimal seconds text), starting at 0.
fn rows(n: usize, step_s: f64) -> String {
    let mut s = String::from(H);
    for i in 0..n {
        s.push_str(&format!("{},0,0,9.8,,,,\n", i as f64 * step_s));
    }
    s
}

#[test]
fn times_in_the_wrong_unit_are_refused_with_the_median_interval() {
    // Milliseconds written as seconds: every interval is 20 s, which would make every interval a gap and the trace
    // yield no window.
    let e = err(rows(50, 20.0).as_bytes());
    assert!(
        matches!(&e, ReadError::ImplausibleRate { file, median_interval_ns: 20_000_000_000 } if file == "data/x.csv")
    );
    let msg = e.to_string();
    assert!(msg.contains("data/x.csv") && msg.contains("20 s") && msg.contains("unit"), "{msg}");
    // Ten-microsecond steps (100 kHz): refused too.
    assert!(matches!(err(rows(50, 0.00001).as_bytes()), ReadError::ImplausibleRate { median_interval_ns: 10_000, .. }));
    // 1 Hz and 1000 Hz, the ends of the accepted range, read.
    for step in [1.0, 0.001] {
        let t = read_trace_csv_from(rows(50, step).as_bytes(), "x").unwrap();
        assert_eq!(t.samples.len(), 50, "{step}");
    }
    // Gaps do not move the median: 50 Hz with a one-day gap in the middle reads.
    let mut text = rows(20, 0.02);
    for i in 0..20 {
        text.push_str(&format!("{},0,0,9.8,,,,\n", 86_400.0 + i as f64 * 0.02));
    }
    assert_eq!(read_trace_csv_from(text.as_bytes(), "x").unwrap().samples.len(), 40);
    // Three samples or fewer are not judged (one gap could be the median).
    assert_eq!(read_trace_csv_from(rows(3, 20.0).as_bytes(), "x").unwrap().samples.len(), 3);
    assert!(matches!(err(rows(4, 20.0).as_bytes()), ReadError::ImplausibleRate { .. }));
}

#[test]
fn discovery_reports_a_truncated_gzip_csv_instead_of_skipping_it() {
    let real = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&real).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Cut inside the first line: no header can be read, and the stream ends early.
    std::fs::write(dir.path().join("cut.csv.gz"), &gz[..12]).unwrap();
    let e = motiongate::datasets::discover(dir.path()).unwrap_err();
    assert!(matches!(&e, ReadError::Truncated { file, .. } if file.ends_with("cut.csv.gz")), "{e:?}");
    // A CSV that is not a trace is still skipped.
    std::fs::write(dir.path().join("cut.csv.gz"), &gz).unwrap();
    std::fs::write(dir.path().join("other.csv"), "a,b\n1,2\n").unwrap();
    let found = motiongate::datasets::discover(dir.path()).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn discovery_finds_each_source_once_through_links_and_overlapping_paths() {
    let real = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    std::fs::create_dir(&traces).unwrap();
    std::fs::copy(real, traces.join("a.csv")).unwrap();
    // A link back up the tree: before, every level down to the depth limit found `a.csv` again (17 copies).
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), traces.join("again")).unwrap();
    let found = motiongate::datasets::discover(dir.path()).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    // The same file named directly, inside a named folder, or twice.
    let paths = [dir.path().to_path_buf(), traces.clone(), traces.join("a.csv"), dir.path().to_path_buf()];
    let found = motiongate::datasets::discover_all(&paths).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}

/// The HAPT excerpt in `data/` with every acceleration passed through `f`, written and read back.
fn excerpt_with(f: impl Fn(&[Sample], usize) -> [f32; 3]) -> Result<Trace, ReadError> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    let mut t = read_trace_csv(std::path::Path::new(path)).unwrap();
    let moved: Vec<Sample> = (0..t.samples.len())
        .map(|i| {
            let a = f(&t.samples, i);
            Sample::accel(t.samples[i].t_ns, a[0], a[1], a[2])
        })
        .collect();
    t.samples = moved;
    let mut buf = Vec::new();
    write_trace_csv(&t, &mut buf).unwrap();
    read_trace_csv_from(buf.as_slice(), "data/in_g.csv")
}

#[test]
fn acceleration_in_g_is_refused_but_linear_acceleration_is_not() {
    // iOS's CoreMotion unit: every value divided by 9.80665.
    let e = excerpt_with(|s, i| (s[i].accel / 9.80665).into()).unwrap_err();
    assert!(
        matches!(&e, ReadError::AccelerationInG { file, seconds_in_g, seconds }
            if file == "data/in_g.csv" && *seconds >= 230 && seconds_in_g == seconds),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.starts_with("data/in_g.csv: acceleration is in g") && msg.contains("9.80665"), "{msg}");
    // The same recording as linear acceleration (a centred 1-s mean subtracted, as a source that removes gravity
    // does) reads: its slow component is near 0, not about 1.
    let linear = excerpt_with(|s, i| {
        let window = &s[i.saturating_sub(25)..(i + 25).min(s.len())];
        let mean = window.iter().map(|x| x.accel).sum::<nalgebra::Vector3<f32>>() / window.len() as f32;
        (s[i].accel - mean).into()
    });
    assert_eq!(linear.unwrap().samples.len(), 12_000);
    // Gravity in g together with seconds that read as gravity in m/s^2 is not one unit throughout: not refused here
    // (the pipeline's per-window check still refuses the windows in g).
    let mixed = excerpt_with(|s, i| if i < 6000 { (s[i].accel / 9.80665).into() } else { s[i].accel.into() });
    assert!(mixed.is_ok());
    // Under ten whole seconds the unit is not judged.
    let short = format!("{H}{}", (0..450).map(|i| format!("{},0,0,1.0,,,,\n", i as f64 * 0.02)).collect::<String>());
    assert_eq!(read_trace_csv_from(short.as_bytes(), "x").unwrap().samples.len(), 450);
    let long = format!("{H}{}", (0..600).map(|i| format!("{},0,0,1.0,,,,\n", i as f64 * 0.02)).collect::<String>());
    assert!(matches!(read_trace_csv_from(long.as_bytes(), "x"), Err(ReadError::AccelerationInG { seconds: 11, .. })));
}

/// The HAPT excerpt in `data/` (a waist phone with a gyroscope) with every sample passed through `f`, written and
/// read back as `name`.
fn excerpt_samples_with(name: &str, f: impl Fn(&Sample) -> Sample) -> Result<Trace, ReadError> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    let mut t = read_trace_csv(std::path::Path::new(path)).unwrap();
    t.samples = t.samples.iter().map(f).collect();
    let mut buf = Vec::new();
    write_trace_csv(&t, &mut buf).unwrap();
    read_trace_csv_from(buf.as_slice(), name)
}

#[test]
fn a_gyroscope_in_degrees_per_second_is_refused() {
    use motiongate::trace::csv::{gyroscope_agreement, GYRO_CONTRADICTION_RATIO};
    let degrees = 180.0 / std::f32::consts::PI;
    let as_recorded = excerpt_samples_with("data/ok.csv", |s| *s).unwrap();
    assert!(as_recorded.samples.iter().all(|s| s.gyro.is_some()));
    let a = gyroscope_agreement(&as_recorded.samples);
    // 4 minutes: 239 pairs of whole seconds, and the gyroscope explains the tilt better than no turn.
    assert_eq!(a.second_pairs, 239);
    assert!(a.error_turned_rad < a.error_unturned_rad, "{a:?}");

    // In deg/s, every turn of the recording's postural transitions and walking reads over 40 rad/s, which the
    // reader refuses line by line, naming the unit.
    let e = excerpt_samples_with("data/deg.csv", |s| Sample { gyro: s.gyro.map(|g| g * degrees), ..*s }).unwrap_err();
    assert!(matches!(&e, ReadError::Parse { line: 94, field, .. } if field == "gz"), "{e:?}");
    assert!(e.to_string().contains("deg/s"), "{e}");
    // Its first still stretch (18.6 s, under 40 deg/s throughout), as a gentle recording in deg/s would be: every
    // value plausible, refused as a whole.
    let mut still = as_recorded.clone();
    still.samples =
        as_recorded.samples[236..1168].iter().map(|s| Sample { gyro: s.gyro.map(|g| g * degrees), ..*s }).collect();
    still.labels.clear();
    let mut buf = Vec::new();
    write_trace_csv(&still, &mut buf).unwrap();
    let e = read_trace_csv_from(buf.as_slice(), "data/deg.csv").unwrap_err();
    let ReadError::GyroscopeContradictsAccelerometer { file, second_pairs, error_turned_rad, error_unturned_rad } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((file.as_str(), *second_pairs), ("data/deg.csv", 18));
    assert!(*error_turned_rad > GYRO_CONTRADICTION_RATIO * error_unturned_rad, "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("data/deg.csv: the gyroscope contradicts the accelerometer") && msg.contains("deg/s"));

    // A gyroscope with every sign flipped misses by about twice what no turn does: a fault this check does not claim
    // to catch (the threshold is set between that and deg/s), so the file reads.
    let flipped = excerpt_samples_with("data/flip.csv", |s| Sample { gyro: s.gyro.map(|g| -g), ..*s }).unwrap();
    let f = gyroscope_agreement(&flipped.samples);
    assert!(
        f.error_turned_rad > 1.5 * f.error_unturned_rad
            && f.error_turned_rad < GYRO_CONTRADICTION_RATIO * f.error_unturned_rad,
        "{f:?}"
    );

    // Without gravity (linear acceleration, a centred 1-s mean subtracted) there is no direction to compare: not
    // judged, even in deg/s.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    let original = read_trace_csv(std::path::Path::new(path)).unwrap().samples;
    let linear: Vec<Sample> = (0..original.len())
        .map(|i| {
            let w = &original[i.saturating_sub(25)..(i + 25).min(original.len())];
            let mean = w.iter().map(|x| x.accel).sum::<nalgebra::Vector3<f32>>() / w.len() as f32;
            Sample { accel: original[i].accel - mean, gyro: original[i].gyro.map(|g| g * degrees), ..original[i] }
        })
        .collect();
    assert_eq!(gyroscope_agreement(&linear).second_pairs, 0);
    // Under ten pairs of seconds (the first 10 s: nine pairs) the gyroscope is not judged.
    let short: Vec<Sample> =
        original[..500].iter().map(|s| Sample { gyro: s.gyro.map(|g| g * degrees), ..*s }).collect();
    assert_eq!(gyroscope_agreement(&short).second_pairs, 9);
    assert!(motiongate::trace::csv::check_gyroscope_unit("x", &short).is_ok());
}
