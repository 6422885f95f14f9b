//! Bad input at every entry point: each test asserts the typed error or the documented safe outcome.
//! The catalogue with one row per case is `tests/README.md`.
#![forbid(unsafe_code)]

use std::io::Cursor;
use std::path::Path;

use motiongate::consent::{CollectionMethod, ConsentError, Gate, Sensors};
use motiongate::datasets::ReadError;
use motiongate::features::SCHEMA_VERSION;
use motiongate::model::{ModelError, FORMAT_VERSION, MAGIC};
use motiongate::sample::{SampleError, SampleField, STANDARD_GRAVITY};
use motiongate::trace::csv::{read_trace_csv, read_trace_csv_from, MAX_LINE_BYTES};
use motiongate::{Activity, ActivityEvent, EventKind, Model, Sample, Session, SessionError};

const KEY: &[u8] = b"bad-input-test-key-0123456789";

fn excerpt() -> Vec<Sample> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    read_trace_csv(Path::new(path)).expect("read excerpt").samples
}

/// A granted gate on a fresh record, and a session.
fn session() -> (tempfile::TempDir, Gate, Session) {
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::open(dir.path().join("consent.json"), KEY, "activity", 1).unwrap();
    gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).unwrap();
    let s = gate.open_session().unwrap();
    (dir, gate, s)
}

fn drain(s: &mut Session) -> Vec<ActivityEvent> {
    std::iter::from_fn(|| s.next_event()).collect()
}

/// Streams everything through a fresh session (in 50-sample chunks) and returns the events.
fn stream(samples: &[Sample]) -> Vec<ActivityEvent> {
    let (_dir, _gate, mut s) = session();
    let mut out = Vec::new();
    for c in samples.chunks(50) {
        s.push(c).expect("accepted");
        out.extend(drain(&mut s));
    }
    out
}

fn updates(evs: &[ActivityEvent]) -> Vec<ActivityEvent> {
    evs.iter().copied().filter(|e| e.kind == EventKind::Update).collect()
}

fn histogram(evs: &[ActivityEvent]) -> String {
    let mut h = std::collections::BTreeMap::new();
    for e in updates(evs) {
        *h.entry(e.activity.name()).or_insert(0) += 1;
    }
    format!("{h:?}")
}

/// `n` samples at `rate_hz` from `t0_ns` with values from `f(i)`.
fn synth(t0_ns: i64, n: usize, rate_hz: f64, f: impl Fn(usize) -> [f32; 3]) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let a = f(i);
            Sample::accel(t0_ns + (i as f64 * 1e9 / rate_hz).round() as i64, a[0], a[1], a[2])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Session push: non-finite, implausible, time order.

fn push_one_bad(bad: Sample) -> SessionError {
    let (_dir, _gate, mut s) = session();
    let good = Sample::accel(1_000_000_000, 0.1, 0.2, 9.8);
    s.push(&[good]).unwrap();
    let err = s.push(&[Sample::accel(1_020_000_000, 0.1, 0.2, 9.8), bad]).unwrap_err();
    // The session is still usable after a refused sample.
    s.push(&[Sample::accel(1_100_000_000, 0.1, 0.2, 9.8)]).unwrap();
    err
}

#[test]
fn session_refuses_nan_and_infinities() {
    for (v, axis) in [(f32::NAN, 'x'), (f32::INFINITY, 'y'), (f32::NEG_INFINITY, 'z')] {
        let mut a = [0.1, 0.2, 9.8];
        a["xyz".find(axis).unwrap()] = v;
        let err = push_one_bad(Sample::accel(1_040_000_000, a[0], a[1], a[2]));
        assert_eq!(
            err,
            SessionError::InvalidSample { index: 1, error: SampleError::NotFinite { field: SampleField::Accel, axis } }
        );
        // The error text names the field, never the value.
        let msg = err.to_string();
        assert!(!msg.contains("NaN") && !msg.contains("inf"), "{msg}");
    }
    let err = push_one_bad(Sample::with_gyro(1_040_000_000, [0.1, 0.2, 9.8], [0.0, f32::NAN, 0.0]));
    assert_eq!(
        err,
        SessionError::InvalidSample { index: 1, error: SampleError::NotFinite { field: SampleField::Gyro, axis: 'y' } }
    );
}

#[test]
fn session_refuses_magnitudes_over_20g() {
    let over = 20.5 * STANDARD_GRAVITY;
    let err = push_one_bad(Sample::accel(1_040_000_000, 0.0, 0.0, over));
    assert_eq!(
        err,
        SessionError::InvalidSample {
            index: 1,
            error: SampleError::Implausible { field: SampleField::Accel, axis: 'z' }
        }
    );
    assert!(!err.to_string().contains("201"), "no sensor value in the message: {err}");
    // Raw counts (e.g. 4096 LSB/g) instead of m/s^2 are refused the same way.
    let err = push_one_bad(Sample::accel(1_040_000_000, 4096.0, 0.0, 0.0));
    assert!(matches!(err, SessionError::InvalidSample { error: SampleError::Implausible { .. }, .. }));
}

#[test]
fn session_refuses_time_backwards_and_duplicates() {
    let err = push_one_bad(Sample::accel(1_010_000_000, 0.1, 0.2, 9.8));
    assert_eq!(err, SessionError::InvalidSample { index: 1, error: SampleError::TimeBackwards });
    let err = push_one_bad(Sample::accel(1_020_000_000, 0.1, 0.2, 9.8));
    assert_eq!(err, SessionError::InvalidSample { index: 1, error: SampleError::TimeRepeated });
}

#[test]
fn session_restarts_after_gaps_of_seconds_to_days_and_events_resume() {
    let real = excerpt();
    let (a, b) = real.split_at(3000); // 60 s, then the rest
    for gap_s in [3i64, 30, 61, 3600, 86_400, 30 * 86_400] {
        let (_dir, _gate, mut s) = session();
        s.push(a).unwrap();
        let before = drain(&mut s);
        let last_t = a.last().unwrap().t_ns;
        let shift = last_t + gap_s * 1_000_000_000 - b[0].t_ns;
        let after: Vec<Sample> = b[..3000]
            .iter()
            .map(|x| {
                let mut x = *x;
                x.t_ns += shift;
                x
            })
            .collect();
        s.push(&after).unwrap();
        let resumed = drain(&mut s);
        let gap_end = after[0].t_ns;
        assert!(!updates(&before).is_empty());
        let post = updates(&resumed);
        // No window spans the gap (no data invented across it) and decisions resume after it.
        assert!(post.iter().all(|e| e.start_ns >= gap_end), "gap {gap_s} s: a window spans the gap");
        assert!(post.len() >= 20, "gap {gap_s} s: only {} updates after the gap", post.len());
    }
}

#[test]
fn rates_from_1_hz_to_1_khz_are_accepted_and_classified() {
    let real = excerpt();
    let t0 = real[0].t_ns;
    let n = real.len();
    // Linear interpolation of the 50 Hz excerpt at `hz` (downsampling by picking, upsampling by interpolating).
    let at = |hz: f64| -> Vec<Sample> {
        let dur = (real[n - 1].t_ns - t0) as f64 * 1e-9;
        let m = (dur * hz) as usize;
        (0..m)
            .map(|i| {
                let t = i as f64 / hz;
                let x = t * 50.0;
                let k = (x.floor() as usize).min(n - 2);
                let w = (x - k as f64) as f32;
                let a = real[k].accel.lerp(&real[k + 1].accel, w);
                Sample::accel(t0 + (t * 1e9).round() as i64, a.x, a.y, a.z)
            })
            .collect()
    };
    let reference = updates(&stream(&real));
    let known = |evs: &[ActivityEvent]| evs.iter().filter(|e| e.activity != Activity::Unknown).count();
    for hz in [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0] {
        let evs = updates(&stream(&at(hz)));
        println!("{hz:>6} Hz: {} updates {}", evs.len(), histogram(&evs));
        assert!(evs.len() + 5 >= reference.len(), "{hz} Hz: {} updates vs {}", evs.len(), reference.len());
        if hz >= 20.0 {
            // Dense input: mostly confident decisions, as at the native 50 Hz.
            assert!(known(&evs) * 2 >= evs.len(), "{hz} Hz: {}", histogram(&evs));
        }
    }
}

#[test]
fn timestamps_in_microseconds_or_milliseconds_are_refused_as_too_fast() {
    // The 50 Hz excerpt with its times in us or ms passed as ns reads as 50 kHz or 50 MHz: without the check, every
    // push succeeded and the first window came after 83 minutes (us) or 58 days (ms) of input, with no error.
    let real = excerpt();
    for (unit, step_ns) in [("us", 20_000), ("ms", 20)] {
        let wrong: Vec<Sample> =
            real.iter().enumerate().map(|(i, s)| Sample { t_ns: i as i64 * step_ns, ..*s }).collect();
        let (_dir, _gate, mut s) = session();
        let err = s.push(&wrong).unwrap_err();
        // The first sample starts the grid and the second opens its first period, which takes 60 (samples 1 to 60).
        assert_eq!(err, SessionError::InvalidSample { index: 61, error: SampleError::TooFast }, "{unit}");
        assert!(err.to_string().contains("nanoseconds"), "{err}");
        assert!(drain(&mut s).iter().all(|e| e.activity == Activity::Unknown), "{unit}");
        // Nothing of the refused sample was taken: the stream goes on from it once the times are right.
        let mut right = real[61..].to_vec();
        for (k, x) in right.iter_mut().enumerate() {
            x.t_ns = 61 * step_ns + 100_000_000 + k as i64 * 20_000_000;
        }
        assert!(s.push(&right).is_ok(), "{unit}");
    }
    // The fastest accepted input: 1200 Hz, with its periods holding 60 samples each.
    let fast = synth(0, 12_000, 1200.0, |i| [0.1, 0.2, 9.8 + (i % 7) as f32 * 0.01]);
    let (_dir, _gate, mut s) = session();
    assert!(s.push(&fast).is_ok());
}

#[test]
fn half_hertz_input_is_never_a_confident_activity() {
    let real = excerpt();
    let slow: Vec<Sample> = real.iter().step_by(100).copied().collect(); // 0.5 Hz
    let evs = stream(&slow);
    println!("0.5 Hz: {} events {}", evs.len(), histogram(&evs));
    assert!(evs.iter().all(|e| e.activity == Activity::Unknown), "0.5 Hz input must give Unknown or nothing: {evs:?}");
}

#[test]
fn all_zero_samples_are_accepted_without_panic() {
    // A dead sensor (or free fall) reads 0 on every axis: within range, so accepted; every hop still gets an update.
    let zeros = synth(0, 50 * 60, 50.0, |_| [0.0; 3]);
    let evs = stream(&zeros);
    println!("all zero: {} events {}", evs.len(), histogram(&evs));
    assert!(!updates(&evs).is_empty(), "windows are still decided");
    assert!(evs.iter().all(|e| e.confidence.is_finite()));
}

#[test]
fn all_zero_samples_are_never_a_confident_activity() {
    // The safe outcome: no signal at all is not evidence of any activity (pipeline::RefusalCheck refuses it).
    let zeros = synth(0, 50 * 60, 50.0, |_| [0.0; 3]);
    let evs = stream(&zeros);
    assert!(!evs.is_empty());
    assert!(evs.iter().all(|e| e.activity == Activity::Unknown), "all-zero input: {}", histogram(&evs));
}

#[test]
fn g_units_instead_of_m_s2_give_unknown() {
    // The real excerpt (still, then walking) divided by g: values around 1 (iOS reports g, the host must scale by
    // -9.81). Each sample is plausible on its own, but a slow component of ~1 where gravity should read 9.8 is the
    // signature of wrong units: those windows get no decision (Unknown) instead of a guess.
    let real = excerpt();
    let in_g: Vec<Sample> = real
        .iter()
        .map(|s| {
            let mut s = *s;
            s.accel /= STANDARD_GRAVITY;
            s.gyro = None;
            s
        })
        .collect();
    let evs = updates(&stream(&in_g));
    let native = updates(&stream(&real));
    println!("in g: {}; in m/s^2: {}", histogram(&evs), histogram(&native));
    assert!(evs.len() + 2 >= native.len(), "g input is accepted and decided");
    // The stream never comes near 0 as linear acceleration would (the low-pass starts at the first sample's value,
    // about 1), so no window of it is judged.
    let unknown = evs.iter().filter(|e| e.activity == Activity::Unknown).count();
    assert_eq!(unknown, evs.len(), "g input must not be classified: {}", histogram(&evs));
}

#[test]
fn a_live_gyroscope_in_degrees_per_second_is_found_and_ignored() {
    // Phones report rad/s; Expo's `DeviceMotion.rotationRate` and some logging apps give deg/s. Rates over 40 are
    // refused sample by sample (any brisk turn); below that, the gyroscope spins the gravity estimate away from the
    // gravity the accelerometer shows. The session counts such windows and, after 10 s of them in a row, ignores the
    // gyroscope (`pipeline::GyroscopeCheck`). The real excerpt (still, then walking) with its rates times 180/pi, held
    // under 40: found, and decided as the recording in rad/s is but for a few windows.
    let real = excerpt();
    let degrees: Vec<Sample> = real
        .iter()
        .map(|s| Sample {
            gyro: s.gyro.map(|g| (g * 180.0 / std::f32::consts::PI).map(|v| v.clamp(-39.9, 39.9))),
            ..*s
        })
        .collect();
    let run = |samples: &[Sample]| {
        let (_dir, _gate, mut s) = session();
        let mut out = Vec::new();
        for c in samples.chunks(50) {
            s.push(c).expect("accepted");
            out.extend(drain(&mut s));
        }
        (updates(&out), s.gyroscope_check())
    };
    let ((native, native_check), (spun, spun_check)) = (run(&real), run(&degrees));
    println!("deg/s: {} {spun_check:?}; rad/s: {} {native_check:?}", histogram(&spun), histogram(&native));
    assert_eq!(native_check, motiongate::pipeline::GyroscopeCheck { contradicting_windows: 0, ignored: false });
    assert!(spun_check.ignored && spun_check.contradicting_windows >= 4, "{spun_check:?}");
    assert_eq!(spun.len(), native.len());
    let changed = native.iter().zip(&spun).filter(|(n, d)| n.activity != d.activity).count();
    assert!(changed <= 5, "{changed} decisions changed: {} against {}", histogram(&spun), histogram(&native));
    for (n, d) in native.iter().zip(&spun) {
        let both_decide = n.activity != Activity::Unknown && d.activity != Activity::Unknown;
        assert!(!both_decide || d.activity == n.activity, "{n:?} became {d:?}");
    }
}

#[test]
fn a_gyroscope_is_ignored_at_the_same_sample_however_the_stream_is_chunked() {
    // The gyroscope is ignored from a grid point inside the stream, not from the next push: sample by sample and in
    // chunks of any size, the excerpt in deg/s gives the same events and the same finding.
    let degrees: Vec<Sample> = excerpt()
        .iter()
        .map(|s| Sample {
            gyro: s.gyro.map(|g| (g * 180.0 / std::f32::consts::PI).map(|v| v.clamp(-39.9, 39.9))),
            ..*s
        })
        .collect();
    let run = |chunk: usize| {
        let (_dir, _gate, mut s) = session();
        let mut out = Vec::new();
        for c in degrees.chunks(chunk) {
            s.push(c).expect("accepted");
            out.extend(drain(&mut s));
        }
        (out, s.gyroscope_check())
    };
    let (one, check) = run(1);
    assert!(check.ignored, "{check:?}");
    // (Up to 1,000 samples, 20 s: a longer push would overflow the 64-event queue, which then drops its oldest updates.)
    for chunk in [7, 125, 1000] {
        assert_eq!(run(chunk), (one.clone(), check), "chunks of {chunk}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical trace CSV reader.

fn csv(text: &[u8]) -> Result<motiongate::trace::Trace, ReadError> {
    read_trace_csv_from(Cursor::new(text.to_vec()), "bad.csv")
}

#[test]
fn csv_empty_and_header_only_files() {
    assert!(matches!(csv(b""), Err(ReadError::Empty { .. })));
    assert!(matches!(csv(b"# only a comment\n"), Err(ReadError::Empty { .. })));
    assert!(matches!(csv(b"t,ax,ay,az\n"), Err(ReadError::Empty { .. })));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.csv");
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(read_trace_csv(&p), Err(ReadError::Empty { .. })));
    assert!(matches!(read_trace_csv(&dir.path().join("missing.csv")), Err(ReadError::Io { .. })));
}

#[test]
fn csv_truncated_last_line() {
    let r = csv(b"t,ax,ay,az\n0.0,1,2,9.8\n0.02,1,2");
    assert!(matches!(r, Err(ReadError::Truncated { line: 3, .. })), "{r:?}");
    // A truncated gzip file is an error too, never a silently shorter trace.
    let real = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &real).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.csv.gz");
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    assert!(read_trace_csv(&p).is_err());
}

#[test]
fn csv_wrong_column_counts() {
    let r = csv(b"t,ax,ay,az\n0.0,1,2,9.8\n0.02,1,2,9.8,5\n");
    assert!(matches!(r, Err(ReadError::ColumnCount { line: 3, expected: 4, found: 5, .. })), "{r:?}");
    let r = csv(b"t,ax,ay,az,label\n0.0,1,2,9.8\n");
    assert!(matches!(r, Err(ReadError::ColumnCount { line: 2, expected: 5, found: 4, .. })), "{r:?}");
    assert!(matches!(csv(b"time,x,y,z\n0,1,2,3\n"), Err(ReadError::Header { line: 1, .. })));
}

#[test]
fn csv_non_utf8_and_huge_lines() {
    let r = csv(b"t,ax,ay,az\n0.0,1,2,9.8\n0.02,1,\xff\xfe,9.8\n");
    assert!(matches!(r, Err(ReadError::NotUtf8 { line: 3, .. })), "{r:?}");
    let mut huge = b"t,ax,ay,az\n0.0,1,2,".to_vec();
    huge.extend(std::iter::repeat_n(b'9', MAX_LINE_BYTES + 10));
    huge.push(b'\n');
    let r = csv(&huge);
    assert!(matches!(r, Err(ReadError::LineTooLong { line: 2, .. })), "{r:?}");
    // A huge line without any line end (a binary blob) is refused the same way, not read into memory whole.
    let blob = vec![b'a'; 8 * MAX_LINE_BYTES];
    assert!(matches!(csv(&blob), Err(ReadError::LineTooLong { line: 1, .. })));
}

#[test]
fn csv_nan_inf_and_implausible_values() {
    for tok in ["NaN", "nan", "inf", "-inf", "infinity", "1e39"] {
        let text = format!("t,ax,ay,az\n0.0,1,{tok},9.8\n");
        let r = csv(text.as_bytes());
        assert!(matches!(&r, Err(ReadError::Parse { line: 2, field, .. }) if field == "ay"), "{tok}: {r:?}");
    }
    let r = csv(b"t,ax,ay,az\n0.0,1,2,200.5\n");
    assert!(matches!(&r, Err(ReadError::Parse { line: 2, field, .. }) if field == "az"), "{r:?}");
    let r = csv(b"t,ax,ay,az\nNaN,1,2,9.8\n");
    assert!(matches!(&r, Err(ReadError::Parse { line: 2, field, .. }) if field == "t"), "{r:?}");
}

#[test]
fn csv_time_backwards_and_duplicates() {
    let r = csv(b"t,ax,ay,az\n0.04,1,2,9.8\n0.02,1,2,9.8\n");
    assert!(matches!(r, Err(ReadError::TimeBackwards { line: 3, .. })), "{r:?}");
    let r = csv(b"t,ax,ay,az\n0.02,1,2,9.8\n0.02,1,2,9.8\n");
    assert!(matches!(r, Err(ReadError::TimeRepeated { line: 3, .. })), "{r:?}");
}

#[test]
fn csv_gaps_are_read_and_the_session_restarts_on_them() {
    // The reader keeps gaps (it has no rate to enforce); the session restarts on them (see the gap test above).
    let t = csv(b"t,ax,ay,az\n0.0,1,2,9.8\n86400.0,1,2,9.8\n").unwrap();
    assert_eq!(t.samples[1].t_ns - t.samples[0].t_ns, 86_400_000_000_000);
}

// ---------------------------------------------------------------------------------------------------------------
// Model loader.

fn embedded_bytes() -> Vec<u8> {
    Model::embedded().unwrap().to_bytes()
}

#[test]
fn model_file_of_another_format_version() {
    let mut b = embedded_bytes();
    b[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(
        Model::from_bytes(&b),
        Err(ModelError::FormatVersion { found: FORMAT_VERSION + 1, expected: FORMAT_VERSION })
    );
    b[8..10].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(Model::from_bytes(&b), Err(ModelError::FormatVersion { found: 0, .. })));
}

#[test]
fn model_file_of_another_feature_schema() {
    let mut file = Model::embedded().unwrap().file().clone();
    file.schema_version = SCHEMA_VERSION + 1;
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    b.extend(postcard::to_allocvec(&file).unwrap());
    assert_eq!(
        Model::from_bytes(&b),
        Err(ModelError::SchemaVersion { found: SCHEMA_VERSION + 1, expected: SCHEMA_VERSION })
    );
}

#[test]
fn model_file_empty_truncated_foreign_or_with_trailing_garbage() {
    let b = embedded_bytes();
    assert_eq!(Model::from_bytes(b""), Err(ModelError::BadMagic));
    assert_eq!(Model::from_bytes(&b[..9]), Err(ModelError::BadMagic));
    assert_eq!(Model::from_bytes(b"PK\x03\x04 a zip file"), Err(ModelError::BadMagic));
    for cut in [10, 11, 100, b.len() / 2, b.len() - 1] {
        assert!(Model::from_bytes(&b[..cut]).is_err(), "truncated at {cut}");
    }
    // Trailing bytes after a valid body: refused (a file that is more than a model is not a model).
    let mut t = b.clone();
    t.extend_from_slice(b"trailing");
    assert!(matches!(Model::from_bytes(&t), Err(ModelError::Decode(_))));
}

// ---------------------------------------------------------------------------------------------------------------
// Consent record (the detailed tamper tests are in tests/consent.rs; these add the file-level oddities).

#[test]
fn consent_record_empty_binary_or_huge_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("consent.json");
    for bytes in [b"".to_vec(), b"\xff\xfe\x00garbage".to_vec(), b"{}".to_vec(), vec![b'['; 100_000]] {
        std::fs::write(&p, &bytes).unwrap();
        let r = Gate::open(&p, KEY, "activity", 1);
        assert!(matches!(r, Err(ConsentError::Tampered { .. })), "{:?}", r.map(|_| ()));
    }
}

#[test]
fn timestamp_jump_across_the_i64_range_does_not_panic() {
    // Device clocks are arbitrary i64 nanoseconds; a jump across the whole range must be a restart, not an
    // overflow.
    let (_dir, _gate, mut s) = session();
    s.push(&[Sample::accel(i64::MIN + 1, 0.0, 0.0, 9.8)]).unwrap();
    let r = s.push(&[Sample::accel(i64::MAX - 1, 0.0, 0.0, 9.8)]);
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn stream_up_to_the_end_of_the_clock_does_not_panic() {
    let (_dir, _gate, mut s) = session();
    let end = synth(i64::MAX - 60_000_000_000, 3000, 50.0, |i| [0.1, (i as f32 * 0.3).sin(), 9.8]);
    s.push(&end).unwrap();
    s.push(&[Sample::accel(i64::MAX, 0.0, 0.0, 9.8)]).unwrap();
    assert!(!drain(&mut s).is_empty());
}

#[test]
fn adeptdata_clock_jump_of_centuries_loads_without_huge_memory() {
    // Found by the dataset_lines fuzz target: the running labels were once computed per second of the clock's
    // span, so two samples 400 million seconds apart asked for gigabytes. They are keyed by second now.
    let dir = tempfile::tempdir().unwrap();
    let body = "loc_id,date_time_epoch_s,x,y,z\n\
                left_hip,1100000000.0,0.1,-1.0,0.1\n\
                left_hip,1500000000.01,0.2,-1.0,0.1\n\
                left_ankle,1500000000.02,0.2,-1.0,0.1\n";
    std::fs::write(dir.path().join("acc_running.csv"), body).unwrap();
    let traces = motiongate::datasets::adeptdata_running::load(dir.path()).unwrap();
    assert_eq!(traces.len(), 2);
    // Two samples a lifetime apart show no running: nothing is labelled.
    assert!(traces.iter().all(|t| t.labels.iter().all(Option::is_none)));
}

// ---------------------------------------------------------------------------------------------------------------
// Dataset readers: times beyond +-2^62 ns, overflowing indices, unknown locations, preallocation.

#[test]
fn dataset_times_beyond_2_pow_62_ns_are_typed_errors_naming_file_and_line() {
    use motiongate::datasets::{motionsense, us_transportation_tmd, wisdm2019_phone_accel, LoadReport};
    let dir = tempfile::tempdir().unwrap();
    let out_of_range = |e: &ReadError, want_line: u64| {
        matches!(e, ReadError::TimeOutOfRange { line, .. } if *line == want_line) && e.line() == Some(want_line)
    };
    // TMD: ms since start; 5e12 ms is 5e18 ns. A gyroscope event that far is refused as well (its time is
    // subtracted from the accelerometer's).
    for sensor in ["android.sensor.accelerometer", "android.sensor.gyroscope"] {
        let p = dir.path().join("sensorfile_u_Car_1480000000000.csv");
        std::fs::write(&p, format!("0,android.sensor.accelerometer,0,0,9.8\n5000000000000,{sensor},0,0,9.8\n"))
            .unwrap();
        let e = us_transportation_tmd::load_file(&p, &mut LoadReport::default()).unwrap_err();
        assert!(out_of_range(&e, 2), "{sensor}: {e:?}");
        assert!(e.to_string().contains("sensorfile_u_Car_1480000000000.csv:2"), "{e}");
    }
    // WISDM: device clock in ns.
    let p = dir.path().join("data_1600_accel_phone.txt");
    std::fs::write(&p, "1600,A,1000,0,0,9.8;\n1600,A,9000000000000000000,0,0,9.8;\n").unwrap();
    let e = wisdm2019_phone_accel::load_file(&p, &mut LoadReport::default()).unwrap_err();
    assert!(out_of_range(&e, 2), "{e:?}");
    // MotionSense: row index x 20 ms.
    let p = dir.path().join("sub_1.csv");
    std::fs::write(&p, ",x,y,z\n0,0,0,1\n300000000000,0,0,1\n").unwrap();
    let e = motionsense::load_file(&p, 1, "wlk", 1).unwrap_err();
    assert!(out_of_range(&e, 3), "{e:?}");
}

#[test]
fn a_tmd_gyroscope_rate_out_of_range_is_reported_at_its_own_line() {
    use motiongate::datasets::{us_transportation_tmd, LoadReport};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sensorfile_u_Car_1480000000000.csv");
    // The absurd rate is on line 2; the accelerometer event it would be attached to is on line 4.
    std::fs::write(
        &p,
        "0,android.sensor.accelerometer,0,0,9.8\n10,android.sensor.gyroscope,1e6,0,0\n15,android.sensor.light,3\n\
         20,android.sensor.accelerometer,0,0,9.8\n",
    )
    .unwrap();
    let e = us_transportation_tmd::load_file(&p, &mut LoadReport::default()).unwrap_err();
    assert!(matches!(e, ReadError::InvalidSample { line: 2, .. }), "{e:?}");
    assert!(e.to_string().contains("sensorfile_u_Car_1480000000000.csv:2"), "{e}");
}

#[test]
fn a_truncated_tmd_line_is_counted_and_named() {
    use motiongate::datasets::{us_transportation_tmd, LoadReport};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sensorfile_u_Car_1480000000000.csv");
    let mut text: String = (0..20).map(|i| format!("{},android.sensor.accelerometer,0,0,9.8\n", i * 100)).collect();
    text.push_str("1480530\n\n");
    std::fs::write(&p, text).unwrap();
    let mut report = LoadReport::default();
    assert!(us_transportation_tmd::load_file(&p, &mut report).unwrap().is_some());
    assert_eq!(report.skipped_lines, 1);
    assert!(report.warnings.iter().any(|w| w.contains(":21: truncated line")), "{:?}", report.warnings);
}

#[test]
fn motionsense_names_that_do_not_parse_are_counted_and_named() {
    use motiongate::datasets::motionsense;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("B_Accelerometer_data");
    let rows: String = (0..50).map(|i| format!("{i},0.01,0.02,-1.0\n")).collect();
    for (folder, file) in [("wlk_7", "sub_1.csv"), ("wlk_7b", "sub_1.csv"), ("wlk_8", "sub_1a.csv")] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join(file), format!(",x,y,z\n{rows}")).unwrap();
    }
    let (traces, report) = motionsense::load_with_report(dir.path()).unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(report.files_without_trace, 2);
    let warnings = report.warnings.join("\n");
    assert!(warnings.contains("wlk_7b") && warnings.contains("sub_1a.csv"), "{warnings}");
}

#[test]
fn basicmotions_time_index_overflow_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let header = "split,case,label,t_index,dim_0,dim_1,dim_2,dim_3,dim_4,dim_5\n";
    std::fs::write(
        dir.path().join("BasicMotions_TRAIN.csv"),
        format!("{header}TRAIN,0,Walking,0,0,0,0,0,0,0\nTRAIN,0,Walking,92233720368547758,0,0,0,0,0,0\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("BasicMotions_TEST.csv"), format!("{header}TEST,0,Walking,0,0,0,0,0,0,0\n"))
        .unwrap();
    let e = motiongate::datasets::basicmotions::load(dir.path()).unwrap_err();
    assert!(matches!(&e, ReadError::Parse { line: 3, field, .. } if field == "t_index"), "{e:?}");
}

#[test]
fn adeptdata_unknown_location_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let body = "loc_id,date_time_epoch_s,x,y,z\n\
                left_hip,1500000000.00,0.1,-1.0,0.1\n\
                right_wrist,1500000000.01,0.2,-1.0,0.1\n";
    std::fs::write(dir.path().join("acc_running.csv"), body).unwrap();
    let e = motiongate::datasets::adeptdata_running::load(dir.path()).unwrap_err();
    assert!(
        matches!(&e, ReadError::Parse { line: 3, field, token, .. } if field == "loc_id" && token == "right_wrist"),
        "{e:?}"
    );
}

/// Reads `rows` (HAPT lines after the header, exactly as given) as a HAPT recording file in `dir`.
fn hapt_rows(dir: &tempfile::TempDir, rows: &str) -> Result<motiongate::trace::Trace, ReadError> {
    let path = dir.path().join("user01_rec1.csv");
    std::fs::write(&path, format!("acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,sequence,label\n{rows}")).unwrap();
    motiongate::datasets::hapt_kcc2020::load_file(&path)
}

#[test]
fn every_dataset_reader_refuses_a_cut_last_line() {
    // Every file of these datasets ends its lines (and WISDM's lines with `;`), so a last line without its end was
    // cut short: a label `12` (other) cut to `1` reads as walking, `9.8` cut to `9` as 9. Refused, never read.
    let dir = tempfile::tempdir().unwrap();
    let first = "0.9,-0.1,0.5,0,0,0,0,12\n";
    let e = hapt_rows(&dir, &format!("{first}0.9,-0.1,0.5,0,0,0,1,1")).unwrap_err();
    assert!(matches!(e, ReadError::Truncated { line: 3, .. }), "{e:?}");
    assert_eq!(hapt_rows(&dir, &format!("{first}0.9,-0.1,0.5,0,0,0,1,12\n")).unwrap().samples.len(), 2);

    let wisdm = dir.path().join("data_1600_accel_phone.txt");
    let mut report = motiongate::datasets::LoadReport::default();
    for (body, line) in [("1600,A,1000,0,0,9.8;\n1600,A,2000,0,0,9", 2), ("1600,A,1000,0,0,9.8\n", 1)] {
        std::fs::write(&wisdm, body).unwrap();
        let e = motiongate::datasets::wisdm2019_phone_accel::load_file(&wisdm, &mut report).unwrap_err();
        assert!(matches!(e, ReadError::Truncated { line: l, .. } if l == line), "{body:?}: {e:?}");
    }

    let adept = dir.path().join("acc_running.csv");
    std::fs::write(&adept, "loc_id,date_time_epoch_s,x,y,z\nleft_hip,1500000000.00,0.1,-1.0,0.1\nleft_hip,15").unwrap();
    let e = motiongate::datasets::adeptdata_running::load(dir.path()).unwrap_err();
    assert!(matches!(e, ReadError::Truncated { line: 3, .. }), "{e:?}");
}

#[test]
fn a_finite_value_too_large_to_convert_is_a_parse_error_naming_its_token() {
    // HAPT is in g: 1e38 g overflows f32 once converted to m/s^2, and was reported as "not a finite number".
    let dir = tempfile::tempdir().unwrap();
    let e = hapt_rows(&dir, "0.9,-0.1,0.5,0,0,0,0,5\n1e38,-0.1,0.5,0,0,0,1,5\n").unwrap_err();
    assert!(
        matches!(&e, ReadError::Parse { line: 3, field, token, .. } if field == "acc_x" && token == "1e38"),
        "{e:?}"
    );
    // Large but convertible values reach the sample check, which names the real problem.
    let e = hapt_rows(&dir, "0.9,-0.1,0.5,0,0,0,0,5\n1e9,-0.1,0.5,0,0,0,1,5\n").unwrap_err();
    assert!(matches!(&e, ReadError::InvalidSample { line: 3, .. }) && e.to_string().contains("plausible"), "{e}");
}

#[test]
fn a_paris_header_naming_a_column_twice_is_refused() {
    // Before, the first `x` was read and the second ignored.
    let dir = tempfile::tempdir().unwrap();
    let ride = dir.path().join("L4_test-2024-01-01_00-00-00");
    std::fs::create_dir(&ride).unwrap();
    let rows = "1700000000000000000,0.0,0.1,0.2,0.3,5.5\n1700000000020000000,0.02,0.1,0.2,0.3,5.5\n";
    std::fs::write(ride.join("Accelerometer.csv"), format!("time,seconds_elapsed,z,y,x,x\n{rows}")).unwrap();
    let e = motiongate::datasets::paris_metro_sensorlogger::load(dir.path()).unwrap_err();
    assert!(matches!(&e, ReadError::Header { line: 1, reason, .. } if reason.contains("x appears")), "{e:?}");
    std::fs::write(ride.join("Accelerometer.csv"), format!("time,seconds_elapsed,z,y,x,w\n{rows}")).unwrap();
    let t = motiongate::datasets::paris_metro_sensorlogger::load(dir.path()).unwrap();
    assert_eq!(t[0].samples[0].accel.x, 0.3);
}

#[test]
fn wisdm_blocks_keep_no_preallocated_buffers() {
    // A file whose activity code changes on every line makes one trace per line: each must hold its one sample,
    // not a buffer reserved for thousands.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("data_1600_accel_phone.txt");
    let mut body = String::new();
    for i in 0..200 {
        body.push_str(&format!("1600,{},{},0,0,9.8;\n", if i % 2 == 0 { "A" } else { "B" }, 1000 + i));
    }
    std::fs::write(&p, body).unwrap();
    let traces =
        motiongate::datasets::wisdm2019_phone_accel::load_file(&p, &mut motiongate::datasets::LoadReport::default())
            .unwrap();
    assert_eq!(traces.len(), 200);
    assert!(traces.iter().all(|t| t.samples.capacity() < 16 && t.labels.capacity() < 16));
}
