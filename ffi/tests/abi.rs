//! The C ABI called from Rust: bad pointers and lengths, non-UTF-8 strings, the full flow, and the oracle (the C ABI
//! gives exactly the events of the Rust API on the same trace).
#![allow(clippy::undocumented_unsafe_blocks)] // test code: every call passes valid or deliberately NULL pointers

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use motiongate::{Activity, CollectionMethod, EventKind, Gate, Sample, Sensors};
use motiongate_ffi::*;

mod common;
use common::{cstr, excerpt as trace, granted_session, open, KEY, T0};

fn last_error() -> String {
    unsafe { CStr::from_ptr(mg_last_error()) }.to_string_lossy().into_owned()
}

/// An event whose times and confidence no real event has, to see whether a call wrote it.
fn blank_event() -> mg_event {
    mg_event { start_ns: -1, end_ns: -1, confidence: -1.0, ..mg_event::default() }
}

#[test]
fn null_pointers_bad_lengths_and_strings() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let rec_c = cstr(rec.to_str().unwrap());
    let mut g: *mut mg_gate = null_mut();
    unsafe {
        let key = KEY.as_ptr();
        let purpose = c"activity".as_ptr();
        assert_eq!(mg_gate_open(null(), key, 32, purpose, 1, &mut g), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("store_path"), "{}", last_error());
        assert_eq!(mg_gate_open(rec_c.as_ptr(), null(), 32, purpose, 1, &mut g), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_open(rec_c.as_ptr(), key, 0, purpose, 1, &mut g), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_open(rec_c.as_ptr(), key, usize::MAX, purpose, 1, &mut g), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_open(rec_c.as_ptr(), key, 32, null(), 1, &mut g), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_open(rec_c.as_ptr(), key, 32, purpose, 1, null_mut()), MG_ERR_INVALID_ARGUMENT);
        let bad_utf8: &[u8] = b"\xff\xfeact\0";
        assert_eq!(
            mg_gate_open(rec_c.as_ptr(), key, 32, bad_utf8.as_ptr() as *const c_char, 1, &mut g),
            MG_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("UTF-8"));
        let bad_path: &[u8] = b"/tmp/\xff.json\0";
        assert_eq!(
            mg_gate_open(bad_path.as_ptr() as *const c_char, key, 32, purpose, 1, &mut g),
            MG_ERR_INVALID_ARGUMENT
        );
        assert_eq!(mg_gate_open(rec_c.as_ptr(), key, 32, c"UPPER case".as_ptr(), 1, &mut g), MG_ERR_INVALID_ARGUMENT);
        assert!(g.is_null());
        let missing_dir = cstr("/nonexistent-motiongate-dir/r.json");
        assert_eq!(mg_gate_open(missing_dir.as_ptr(), key, 32, purpose, 1, &mut g), MG_ERR_STORE_IO);

        let mut st = mg_consent_state::MG_CONSENT_GRANTED;
        assert_eq!(mg_gate_state(null(), &mut st), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_grant(null_mut(), T0), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_deny(null_mut(), T0), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_withdraw(null_mut(), T0, null_mut()), MG_ERR_INVALID_ARGUMENT);
        let mut s: *mut mg_session = null_mut();
        assert_eq!(mg_session_open(null_mut(), &mut s), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_session_push(null_mut(), null(), 0), MG_ERR_INVALID_ARGUMENT);
        let mut ev = blank_event();
        assert_eq!(mg_session_next_event(null_mut(), &mut ev), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_session_status(null()), MG_ERR_INVALID_ARGUMENT);
        mg_gate_free(null_mut());
        mg_session_free(null_mut());

        let (st0, g) = open(rec.to_str().unwrap(), 1);
        assert_eq!(st0, MG_OK);
        assert_eq!(mg_gate_state(g, null_mut()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_grant(g, -1), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_grant_sensors(g, T0, 0), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_grant_sensors(g, T0, 8 | MG_SENSOR_ACCELEROMETER), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_session_open(g, &mut s), MG_GATED_NOT_DETERMINED);
        assert!(s.is_null());
        assert_eq!(mg_gate_deny(g, T0), MG_OK);
        assert_eq!(mg_session_open(g, &mut s), MG_GATED_DENIED);
        assert_eq!(mg_gate_grant_sensors(g, T0 + 1, MG_SENSOR_ACCELEROMETER), MG_OK);
        assert_eq!(mg_gate_deny(g, T0 + 2), MG_ERR_INVALID_TRANSITION);
        assert_eq!(mg_session_open(g, null_mut()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_session_open(g, &mut s), MG_OK);
        assert_eq!(mg_session_push(s, null(), 0), MG_OK);
        assert_eq!(mg_session_push(s, null(), 3), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_session_push(s, null(), usize::MAX), MG_ERR_INVALID_ARGUMENT);
        let one = trace()[..3].to_vec();
        assert_eq!(mg_session_push(s, one.as_ptr(), MG_MAX_PUSH + 1), MG_ERR_INVALID_ARGUMENT);
        let mut bad = one.clone();
        bad[1].az = f32::NAN;
        assert_eq!(mg_session_push(s, bad.as_ptr(), 3), MG_ERR_INVALID_SAMPLE);
        let msg = last_error();
        assert!(msg.contains("sample 1") && !msg.contains("NaN"), "{msg}");
        // Sample 0 was accepted, so pushing it again goes back in time.
        assert_eq!(mg_session_push(s, one.as_ptr(), 1), MG_ERR_INVALID_SAMPLE);
        let mut bad_gyro = one[2];
        bad_gyro.has_gyro = 2;
        assert_eq!(mg_session_push(s, &bad_gyro, 1), MG_ERR_INVALID_SAMPLE);
        assert_eq!(mg_session_push(s, one[1..].as_ptr(), 2), MG_OK);
        assert_eq!(mg_session_next_event(s, null_mut()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_session_next_event(s, &mut ev), MG_NO_EVENT);
        // The gate can be freed before its session; the session stays valid and stoppable.
        mg_gate_free(g);
        assert_eq!(mg_session_status(s), MG_OK);
        let (st1, g) = open(rec.to_str().unwrap(), 1);
        assert_eq!(st1, MG_OK);
        let mut wiped = 0u64;
        assert_eq!(mg_gate_withdraw(g, T0 + 3, &mut wiped), MG_OK);
        assert!(wiped > 0);
        assert_eq!(mg_session_push(s, null(), 0), MG_GATED_WITHDRAWN);
        assert_eq!(mg_session_next_event(s, &mut ev), MG_GATED_WITHDRAWN);
        assert_eq!(ev.start_ns, -1, "a gated read writes no event");
        mg_session_free(s);
        mg_gate_free(g);
    }
    for code in [0, 1, 10, 11, 12, 13, 20, 21, 22, 30, 31, 99, -1, 1000, i32::MIN] {
        let s = unsafe { CStr::from_ptr(mg_status_str(code)) };
        assert!(!s.to_bytes().is_empty());
    }
    assert_eq!(unsafe { CStr::from_ptr(mg_version()) }.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn regrant_supersedes_and_policy_change_requires_reconsent() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let (_, g) = open(rec.to_str().unwrap(), 1);
    let mut s = null_mut();
    unsafe {
        assert_eq!(mg_gate_grant(g, T0), MG_OK);
        assert_eq!(mg_session_open(g, &mut s), MG_OK);
        assert_eq!(mg_gate_grant(g, T0 + 1), MG_OK);
        // Superseded maps to WITHDRAWN (documented); the gate says GRANTED, so the app opens a new session.
        assert_eq!(mg_session_status(s), MG_GATED_WITHDRAWN);
        let mut st = mg_consent_state::MG_CONSENT_DENIED;
        assert_eq!(mg_gate_state(g, &mut st), MG_OK);
        assert_eq!(st, mg_consent_state::MG_CONSENT_GRANTED);
        mg_session_free(s);
        mg_gate_free(g);
        let (_, g2) = open(rec.to_str().unwrap(), 2);
        assert_eq!(mg_gate_state(g2, &mut st), MG_OK);
        assert_eq!(st, mg_consent_state::MG_CONSENT_RECONSENT_REQUIRED);
        assert_eq!(mg_session_open(g2, &mut s), MG_GATED_RECONSENT_REQUIRED);
        mg_gate_free(g2);
    }
}

#[test]
fn tampered_and_wrong_key_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let (_, g) = open(rec.to_str().unwrap(), 1);
    unsafe {
        assert_eq!(mg_gate_grant(g, T0), mg_status::MG_OK);
        mg_gate_free(g);
        let p = cstr(rec.to_str().unwrap());
        let other = [8u8; 32];
        let mut g2 = null_mut();
        assert_eq!(
            mg_gate_open(p.as_ptr(), other.as_ptr(), 32, c"activity".as_ptr(), 1, &mut g2),
            mg_status::MG_ERR_STORE_TAMPERED
        );
        assert!(g2.is_null());
    }
    let mut bytes = std::fs::read(&rec).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    std::fs::write(&rec, &bytes).unwrap();
    assert_eq!(open(rec.to_str().unwrap(), 1).0, mg_status::MG_ERR_STORE_TAMPERED);
}

type Events = Vec<(EventKind, Activity, u32, i64, i64)>;

/// The events of the Rust API on `samples`, and its window counts (classified, without gravity).
fn rust_events(samples: &[mg_sample], rec: &std::path::Path) -> (Events, (u64, u64)) {
    let gate = Gate::open(rec, &KEY, "activity", 1).unwrap();
    gate.grant(T0 as u64, CollectionMethod::InAppDialog, Sensors::ALL).unwrap();
    let mut session = gate.open_session().unwrap();
    let mut out = Vec::new();
    for chunk in samples.chunks(37) {
        let v: Vec<Sample> =
            chunk.iter().map(|s| Sample::with_gyro(s.t_ns, [s.ax, s.ay, s.az], [s.gx, s.gy, s.gz])).collect();
        session.push(&v).unwrap();
        while let Some(e) = session.next_event() {
            out.push((e.kind, e.activity, e.confidence.to_bits(), e.start_ns, e.end_ns));
        }
    }
    (out, (session.windows_classified(), session.windows_without_gravity()))
}

#[test]
fn full_flow_matches_the_rust_api() {
    use mg_status::*;
    let samples = trace();
    let dir = tempfile::tempdir().unwrap();
    let (oracle, oracle_windows) = rust_events(&samples, &dir.path().join("oracle.json"));

    let rec = dir.path().join("r.json");
    let (st, g) = open(rec.to_str().unwrap(), 1);
    assert_eq!(st, MG_OK);
    let mut got = Vec::new();
    let mut windows = (u64::MAX, u64::MAX);
    unsafe {
        let mut s = null_mut();
        assert_eq!(mg_session_open(g, &mut s), MG_GATED_NOT_DETERMINED);
        assert_eq!(mg_gate_grant(g, T0), MG_OK);
        assert_eq!(mg_session_open(g, &mut s), MG_OK);
        for chunk in samples.chunks(37) {
            assert_eq!(mg_session_push(s, chunk.as_ptr(), chunk.len()), MG_OK);
            let mut ev = blank_event();
            loop {
                match mg_session_next_event(s, &mut ev) {
                    MG_OK => got.push(ev),
                    MG_NO_EVENT => break,
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(mg_session_windows(s, &mut windows.0, &mut windows.1), MG_OK);
        let mut wiped = 0;
        assert_eq!(mg_gate_withdraw(g, T0 + 1, &mut wiped), MG_OK);
        assert!(wiped > 0);
        assert_eq!(mg_session_push(s, samples.as_ptr(), 1), MG_GATED_WITHDRAWN);
        mg_session_free(s);
        mg_gate_free(g);
    }
    let kind = |k: mg_event_kind| match k {
        mg_event_kind::MG_UPDATE => EventKind::Update,
        mg_event_kind::MG_ENTER => EventKind::Enter,
        mg_event_kind::MG_EXIT => EventKind::Exit,
    };
    let act = |a: mg_activity| match a {
        mg_activity::MG_STILL => Activity::Still,
        mg_activity::MG_WALKING => Activity::Walking,
        mg_activity::MG_RUNNING => Activity::Running,
        mg_activity::MG_TRANSIT => Activity::Transit,
        mg_activity::MG_UNKNOWN => Activity::Unknown,
    };
    let got: Vec<_> =
        got.iter().map(|e| (kind(e.kind), act(e.activity), e.confidence.to_bits(), e.start_ns, e.end_ns)).collect();
    assert!(got.len() > 50);
    assert_eq!(got, oracle);
    // The excerpt is the raw accelerometer: every window holds gravity.
    assert_eq!(windows, oracle_windows);
    assert!(windows.0 > 50 && windows.1 == 0, "{windows:?}");
    let enters: Vec<Activity> = got.iter().filter(|e| e.0 == EventKind::Enter).map(|e| e.1).collect();
    assert!(enters.contains(&Activity::Walking) && enters.contains(&Activity::Still), "{enters:?}");
}

#[test]
fn misaligned_pointers_overlong_strings_and_an_ungranted_gyroscope() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let one = trace()[..3].to_vec();
    unsafe {
        let long_purpose = cstr(&"a".repeat(MG_MAX_STRING + 1));
        let rec_c = cstr(rec.to_str().unwrap());
        let mut g = null_mut();
        assert_eq!(
            mg_gate_open(rec_c.as_ptr(), KEY.as_ptr(), KEY.len(), long_purpose.as_ptr(), 1, &mut g),
            MG_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("MG_MAX_STRING"), "{}", last_error());
        let (st, g) = open(rec.to_str().unwrap(), 1);
        assert_eq!(st, MG_OK);
        // Output pointers and sample arrays that are not aligned for their type are refused, never written.
        let mut words = [0u64; 16];
        let bytes = words.as_mut_ptr().cast::<u8>();
        assert_eq!(mg_gate_state(g, bytes.add(1).cast::<mg_consent_state>()), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("aligned"), "{}", last_error());
        assert_eq!(mg_gate_withdraw(g, T0, bytes.add(4).cast::<u64>()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(words, [0; 16]);

        // Accelerometer only: a gyroscope reading is dropped before it is even looked at, so a NaN in it is not
        // refused (with the gyroscope granted, the same sample is).
        assert_eq!(mg_gate_grant_sensors(g, T0, MG_SENSOR_ACCELEROMETER), MG_OK);
        let mut s = null_mut();
        assert_eq!(mg_session_open(g, &mut s), MG_OK);
        let mut nan_gyro = one.clone();
        nan_gyro[1].gx = f32::NAN;
        assert_eq!(mg_session_push(s, nan_gyro.as_ptr(), 3), MG_OK);
        let mut buf = vec![0u64; 64];
        let shifted = buf.as_mut_ptr().cast::<u8>().add(4).cast::<mg_sample>();
        std::ptr::copy_nonoverlapping(one.as_ptr().cast::<u8>(), shifted.cast::<u8>(), 3 * size_of::<mg_sample>());
        assert_eq!(mg_session_push(s, shifted, 3), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("samples is not aligned"), "{}", last_error());
        mg_session_free(s);
        assert_eq!(mg_gate_grant(g, T0 + 1), MG_OK);
        let mut s = null_mut();
        assert_eq!(mg_session_open(g, &mut s), MG_OK);
        assert_eq!(mg_session_push(s, nan_gyro.as_ptr(), 3), MG_ERR_INVALID_SAMPLE);
        mg_session_free(s);
        mg_gate_free(g);
    }
}

#[test]
fn status_is_read_on_another_thread_while_a_push_runs() {
    use mg_status::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let samples = trace();
    let (g, s) = granted_session(&rec);
    // Raw pointers are not `Send`; the handle crosses as an address, as it would from a UI thread in an app.
    let (session, gate) = (s as usize, g as usize);
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let poller = {
        let (done, started) = (done.clone(), started.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(Ordering::Acquire) {
                let st = unsafe { mg_session_status(session as *const mg_session) };
                if seen.last() != Some(&st) {
                    seen.push(st);
                }
                started.store(true, Ordering::Release);
            }
            seen.push(unsafe { mg_session_status(session as *const mg_session) });
            seen
        })
    };
    while !started.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    let half = samples.len() / 2;
    unsafe {
        // Small pushes, so that the poller's reads fall between and during them.
        for chunk in samples[..half].chunks(100) {
            assert_eq!(mg_session_push(session as *mut mg_session, chunk.as_ptr(), chunk.len()), MG_OK);
        }
        let mut wiped = 0;
        assert_eq!(mg_gate_withdraw(gate as *mut mg_gate, T0 + 1, &mut wiped), MG_OK);
        assert!(wiped > 0);
        let rest = samples.len() - half;
        assert_eq!(mg_session_push(session as *mut mg_session, samples[half..].as_ptr(), rest), MG_GATED_WITHDRAWN);
    }
    done.store(true, Ordering::Release);
    let seen = poller.join().unwrap();
    assert_eq!(seen.first(), Some(&MG_OK), "{seen:?}");
    assert_eq!(seen.last(), Some(&MG_GATED_WITHDRAWN), "{seen:?}");
    assert!(seen.iter().all(|s| matches!(s, MG_OK | MG_GATED_WITHDRAWN)), "{seen:?}");
    unsafe {
        mg_session_free(s);
        mg_gate_free(g);
    }
}

#[test]
fn the_record_head_matches_the_rust_api_and_moves_with_every_entry() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let head = |g: *mut mg_gate| {
        let mut count = u64::MAX;
        let mut hash = [1 as c_char; MG_HEAD_HASH_SIZE];
        assert_eq!(unsafe { mg_gate_head(g, &mut count, hash.as_mut_ptr(), hash.len()) }, MG_OK);
        let hash = unsafe { CStr::from_ptr(hash.as_ptr()) }.to_str().unwrap().to_owned();
        (count, hash)
    };
    let (st, g) = open(rec.to_str().unwrap(), 1);
    assert_eq!(st, MG_OK);
    assert_eq!(head(g), (0, "0".repeat(64)));
    unsafe {
        let mut count = 0;
        let mut short = [0 as c_char; MG_HEAD_HASH_SIZE - 1];
        assert_eq!(mg_gate_head(g, &mut count, short.as_mut_ptr(), short.len()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(short, [0; MG_HEAD_HASH_SIZE - 1], "nothing is written into a short buffer");
        assert_eq!(mg_gate_head(g, null_mut(), short.as_mut_ptr(), 100), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_head(g, &mut count, null_mut(), 100), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_head(null(), &mut count, short.as_mut_ptr(), 100), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(mg_gate_grant(g, T0), MG_OK);
    }
    let after_grant = head(g);
    assert_eq!(after_grant.0, 1);
    assert!(after_grant.1.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    unsafe { mg_gate_free(g) };
    let rust = Gate::open(&rec, &KEY, "activity", 1).unwrap().head();
    assert_eq!((rust.count, rust.last_hash), after_grant);
    let (_, g) = open(rec.to_str().unwrap(), 1);
    unsafe { assert_eq!(mg_gate_withdraw(g, T0 + 1, null_mut()), MG_OK) };
    let after_withdraw = head(g);
    assert_eq!(after_withdraw.0, 2);
    assert_ne!(after_withdraw.1, after_grant.1);
    unsafe { mg_gate_free(g) };
}

/// `n` samples at 50 Hz of a gentle sway, without gyroscope: z around `g` (9.81: the raw accelerometer; 0: linear
/// acceleration, gravity removed).
fn sway(n: usize, g: f32) -> Vec<mg_sample> {
    (0..n)
        .map(|i| {
            let t_ns = i as i64 * 20_000_000;
            let t = t_ns as f32 * 1e-9;
            let (ax, ay) = if g == 0.0 { (0.0, 0.0) } else { (0.2 * (3.0 * t).sin(), 0.1) };
            mg_sample { t_ns, ax, ay, az: g + 0.5 * (11.0 * t).sin(), ..mg_sample::default() }
        })
        .collect()
}

#[test]
fn window_counts_tell_input_without_gravity_and_survive_the_wipe() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let (g, with) = granted_session(&dir.path().join("r.json"));
    unsafe {
        let mut without = null_mut();
        assert_eq!(mg_session_open(g, &mut without), MG_OK);
        let (mut classified, mut no_gravity) = (u64::MAX, u64::MAX);
        assert_eq!(mg_session_windows(null_mut(), &mut classified, &mut no_gravity), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("session is NULL"), "{}", last_error());
        assert_eq!(mg_session_windows(with, null_mut(), &mut no_gravity), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("out_classified"), "{}", last_error());
        assert_eq!(mg_session_windows(with, &mut classified, null_mut()), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("out_without_gravity"), "{}", last_error());
        assert_eq!(mg_session_windows(with, null_mut(), null_mut()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!((classified, no_gravity), (u64::MAX, u64::MAX), "nothing is written on a refused call");
        let mut words = [0u64; 4];
        let bytes = words.as_mut_ptr().cast::<u8>();
        assert_eq!(mg_session_windows(with, bytes.add(1).cast::<u64>(), &mut no_gravity), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("aligned"), "{}", last_error());
        assert_eq!(mg_session_windows(with, &mut classified, bytes.add(12).cast::<u64>()), MG_ERR_INVALID_ARGUMENT);
        assert_eq!(words, [0; 4]);
        assert_eq!(no_gravity, u64::MAX);
        assert_eq!(mg_session_windows(with, &mut classified, &mut no_gravity), MG_OK);
        assert_eq!((classified, no_gravity), (0, 0), "nothing classified yet");

        // 20 s at 50 Hz of the same motion, with gravity and as linear acceleration.
        for (s, input) in [(with, sway(1000, 9.81)), (without, sway(1000, 0.0))] {
            for chunk in input.chunks(37) {
                assert_eq!(mg_session_push(s, chunk.as_ptr(), chunk.len()), MG_OK);
            }
        }
        let counts = |s: *mut mg_session| {
            let (mut classified, mut no_gravity) = (u64::MAX, u64::MAX);
            assert_eq!(mg_session_windows(s, &mut classified, &mut no_gravity), MG_OK);
            (classified, no_gravity)
        };
        let (classified, no_gravity) = counts(with);
        assert!(classified >= 5, "{classified}");
        assert_eq!(no_gravity, 0, "with gravity");
        let (classified_linear, no_gravity_linear) = counts(without);
        assert_eq!(classified_linear, classified, "the same number of samples");
        assert_eq!(no_gravity_linear, classified_linear, "without gravity");

        // Counts, not signal data: readable once consent has ended, and the withdrawal's wipe does not reset them.
        let mut wiped = 0;
        assert_eq!(mg_gate_withdraw(g, T0 + 1, &mut wiped), MG_OK);
        assert!(wiped > 0);
        assert_eq!(mg_session_status(with), MG_GATED_WITHDRAWN);
        assert_eq!(counts(with), (classified, 0));
        assert_eq!(counts(without), (classified, classified));
        mg_session_free(with);
        mg_session_free(without);
        mg_gate_free(g);
    }
}

/// A session's count getter refuses a NULL session, each NULL out pointer (naming it) and a misaligned one with
/// `MG_ERR_INVALID_ARGUMENT`, and writes nothing then.
///
/// # Safety
/// `raw` is a live session.
unsafe fn refuses_bad_count_arguments(
    raw: *mut mg_session,
    getter: unsafe extern "C" fn(*mut mg_session, *mut u64, *mut u64) -> mg_status,
    names: [&str; 2],
) {
    use mg_status::*;
    let (mut first, mut second) = (u64::MAX, u64::MAX);
    unsafe {
        assert_eq!(getter(null_mut(), &mut first, &mut second), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("session is NULL"), "{}", last_error());
        assert_eq!(getter(raw, null_mut(), &mut second), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains(names[0]), "{}", last_error());
        assert_eq!(getter(raw, &mut first, null_mut()), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains(names[1]), "{}", last_error());
        let mut words = [0u64; 2];
        let bytes = words.as_mut_ptr().cast::<u8>();
        assert_eq!(getter(raw, bytes.add(3).cast::<u64>(), &mut second), MG_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("aligned"), "{}", last_error());
        assert_eq!((words, first, second), ([0; 2], u64::MAX, u64::MAX), "nothing is written on a refused call");
    }
}

#[test]
fn refused_window_counts_tell_acceleration_in_g_and_a_dead_sensor() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let (g, raw) = granted_session(&dir.path().join("r.json"));
    unsafe {
        let refused = |s: *mut mg_session| {
            let (mut dead, mut in_g) = (u64::MAX, u64::MAX);
            assert_eq!(mg_session_windows_refused(s, &mut dead, &mut in_g), MG_OK);
            (dead, in_g)
        };
        refuses_bad_count_arguments(raw, mg_session_windows_refused, ["out_dead_sensor", "out_in_g"]);
        assert_eq!(refused(raw), (0, 0));

        // 20 s at 50 Hz: the raw accelerometer in m/s^2, the same in g (iOS's unit, unconverted), a dead sensor.
        let (mut in_g_session, mut dead_session) = (null_mut(), null_mut());
        assert_eq!(mg_session_open(g, &mut in_g_session), MG_OK);
        assert_eq!(mg_session_open(g, &mut dead_session), MG_OK);
        let metres = sway(1000, 9.81);
        let gs: Vec<mg_sample> =
            metres.iter().map(|s| mg_sample { ax: s.ax / 9.81, ay: s.ay / 9.81, az: s.az / 9.81, ..*s }).collect();
        let zeros: Vec<mg_sample> = metres.iter().map(|s| mg_sample { t_ns: s.t_ns, ..mg_sample::default() }).collect();
        for (s, input) in [(raw, &metres), (in_g_session, &gs), (dead_session, &zeros)] {
            assert_eq!(mg_session_push(s, input.as_ptr(), input.len()), MG_OK);
        }
        let classified = |s: *mut mg_session| {
            let (mut classified, mut no_gravity) = (u64::MAX, u64::MAX);
            assert_eq!(mg_session_windows(s, &mut classified, &mut no_gravity), MG_OK);
            assert_eq!(no_gravity, 0);
            classified
        };
        let n = classified(raw);
        assert!(n >= 5, "{n}");
        assert_eq!((classified(in_g_session), classified(dead_session)), (n, n));
        assert_eq!(refused(raw), (0, 0));
        assert_eq!(refused(in_g_session), (0, n));
        assert_eq!(refused(dead_session), (n, 0));
        // Refused windows are reported unknown, never as an activity.
        let mut ev = blank_event();
        let mut updates = 0;
        while mg_session_next_event(in_g_session, &mut ev) == MG_OK {
            assert_eq!(ev.activity, mg_activity::MG_UNKNOWN);
            updates += usize::from(ev.kind == mg_event_kind::MG_UPDATE);
        }
        assert_eq!(updates as u64, n);
        // Counts survive the withdrawal's wipe.
        let mut wiped = 0;
        assert_eq!(mg_gate_withdraw(g, T0 + 1, &mut wiped), MG_OK);
        assert_eq!(refused(in_g_session), (0, n));
        for s in [raw, in_g_session, dead_session] {
            mg_session_free(s);
        }
        mg_gate_free(g);
    }
}

#[test]
fn a_gyroscope_in_degrees_per_second_is_found_and_ignored() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let (g, raw) = granted_session(&dir.path().join("g.json"));
    unsafe {
        let gyroscope = |s: *mut mg_session| {
            let (mut contradicting, mut ignored) = (u64::MAX, u64::MAX);
            assert_eq!(mg_session_gyroscope(s, &mut contradicting, &mut ignored), MG_OK);
            (contradicting, ignored)
        };
        refuses_bad_count_arguments(raw, mg_session_gyroscope, ["out_contradicting", "out_ignored"]);
        assert_eq!(gyroscope(raw), (0, 0));

        // The real excerpt in rad/s, and with its rates in deg/s (times 180/pi, held under the 40 the sample check
        // allows): found and ignored in the second session only.
        let mut degrees_session = null_mut();
        assert_eq!(mg_session_open(g, &mut degrees_session), MG_OK);
        let radians = trace();
        let degrees: Vec<mg_sample> = radians
            .iter()
            .map(|s| {
                let d = |v: f32| (v * 180.0 / std::f32::consts::PI).clamp(-39.9, 39.9);
                mg_sample { gx: d(s.gx), gy: d(s.gy), gz: d(s.gz), ..*s }
            })
            .collect();
        assert_eq!(mg_session_push(raw, radians.as_ptr(), radians.len()), MG_OK);
        assert_eq!(mg_session_push(degrees_session, degrees.as_ptr(), degrees.len()), MG_OK);
        assert_eq!(gyroscope(raw), (0, 0));
        let (found, ignored) = gyroscope(degrees_session);
        assert!(found >= 4 && ignored == 1, "{found} {ignored}");
        // The finding survives the withdrawal's wipe.
        let mut wiped = 0;
        assert_eq!(mg_gate_withdraw(g, T0 + 1, &mut wiped), MG_OK);
        assert_eq!(gyroscope(degrees_session), (found, 1));
        mg_session_free(raw);
        mg_session_free(degrees_session);
        mg_gate_free(g);
    }
}

#[test]
fn a_withdrawal_that_cannot_be_written_still_reports_what_it_wiped() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("record");
    std::fs::create_dir(&sub).unwrap();
    let (g, s) = granted_session(&sub.join("r.json"));
    let chunk = &trace()[..100];
    unsafe {
        assert_eq!(mg_session_push(s, chunk.as_ptr(), chunk.len()), MG_OK);
        // The record's folder is gone: the withdrawal cannot be written, but it stops and wipes the session.
        std::fs::remove_dir_all(&sub).unwrap();
        let mut wiped = u64::MAX;
        assert_eq!(mg_gate_withdraw(g, T0 + 10, &mut wiped), MG_ERR_STORE_IO);
        assert!(wiped > 0 && wiped != u64::MAX, "{wiped}");
        assert_eq!(mg_session_status(s), MG_GATED_WITHDRAWN);
        // A second failed attempt wipes nothing more, and says so.
        let mut again = u64::MAX;
        assert_eq!(mg_gate_withdraw(g, T0 + 11, &mut again), MG_ERR_STORE_IO);
        assert_eq!(again, 0);
        mg_session_free(s);
        mg_gate_free(g);
    }
}

/// The head `mg_gate_head` reports: entries and the hash as a NUL-terminated string.
fn head_of(g: *const mg_gate) -> (u64, Vec<u8>) {
    let mut count = 0u64;
    let mut hash = vec![0u8; MG_HEAD_HASH_SIZE];
    assert_eq!(unsafe { mg_gate_head(g, &mut count, hash.as_mut_ptr().cast(), hash.len()) }, mg_status::MG_OK);
    (count, hash)
}

#[test]
fn a_gate_opened_against_a_kept_head_refuses_a_rolled_back_record_untouched() {
    use mg_status::*;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.json");
    let rec_c = cstr(rec.to_str().unwrap());
    let checked = |count: u64, hash: *const c_char, out: &mut *mut mg_gate| unsafe {
        mg_gate_open_checked(rec_c.as_ptr(), KEY.as_ptr(), KEY.len(), c"activity".as_ptr(), 1, count, hash, out)
    };
    let mut g: *mut mg_gate = null_mut();
    // A missing record has the empty head.
    let zeros = cstr(&"0".repeat(64));
    assert_eq!(checked(0, zeros.as_ptr(), &mut g), MG_OK);
    unsafe { assert_eq!(mg_gate_grant(g, T0), MG_OK) };
    let granted = std::fs::read(&rec).unwrap();
    unsafe { assert_eq!(mg_gate_withdraw(g, T0 + 1, null_mut()), MG_OK) };
    let (count, hash) = head_of(g);
    unsafe { mg_gate_free(g) };
    // The head kept after the withdrawal opens the record as it is.
    let mut g2: *mut mg_gate = null_mut();
    assert_eq!(checked(count, hash.as_ptr().cast(), &mut g2), MG_OK);
    assert_eq!(head_of(g2), (count, hash.clone()));
    unsafe { mg_gate_free(g2) };
    // The record rolled back to its granted copy verifies (same key) but has another head: refused, not written.
    std::fs::write(&rec, &granted).unwrap();
    let mut g3: *mut mg_gate = std::ptr::dangling_mut::<mg_gate>();
    assert_eq!(checked(count, hash.as_ptr().cast(), &mut g3), MG_ERR_STORE_TAMPERED);
    assert!(g3.is_null());
    assert_eq!(std::fs::read(&rec).unwrap(), granted);
    // A hash that is not 64 lower-case hex digits, or NULL, is an invalid argument; `*out` is NULL.
    for bad in ["0".repeat(63), "A".repeat(64), format!("{}g", "0".repeat(63))] {
        let bad = cstr(&bad);
        let mut g4: *mut mg_gate = std::ptr::dangling_mut::<mg_gate>();
        assert_eq!(checked(count, bad.as_ptr(), &mut g4), MG_ERR_INVALID_ARGUMENT);
        assert!(g4.is_null());
    }
    let mut g5: *mut mg_gate = std::ptr::dangling_mut::<mg_gate>();
    assert_eq!(checked(count, null(), &mut g5), MG_ERR_INVALID_ARGUMENT);
    assert!(g5.is_null() && last_error().contains("expected_hash"), "{}", last_error());
}
