//! Sessions: gating on every push, purge on withdrawal across threads, the property test over random consent
//! histories, the not-`Serialize` check, and a writer process killed mid-write.
#![forbid(unsafe_code)]

use std::marker::PhantomData;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use motiongate::consent::{CollectionMethod, ConsentError, Gate, Gated, Sensors, StateKind, Store};
use motiongate::sample::SampleError;
use motiongate::{Activity, ActivityEvent, RefusedWindows, Sample, Session, SessionError};
use proptest::prelude::*;

const KEY: &[u8] = b"session-test-key-0123456789";
const P: &str = "activity";

fn s(t: i64) -> Sample {
    Sample::with_gyro(t, [0.3, -0.2, 9.7], [0.01, 0.02, -0.03])
}

// ---------------------------------------------------------------------------------------------------------------
// Not Serialize: a compile-time assertion (this file does not compile if `Sample` or `Session` implements
// `serde::Serialize`) plus a run-time probe with a positive control, so the check is known to work.

trait AmbiguousIfSerialize<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSerialize<()> for T {}
#[allow(dead_code)]
struct Invalid;
impl<T: ?Sized + serde::Serialize> AmbiguousIfSerialize<Invalid> for T {}
const _: fn() = || {
    let _ = <Sample as AmbiguousIfSerialize<_>>::some_item;
    let _ = <Session as AmbiguousIfSerialize<_>>::some_item;
    let _ = <[Sample] as AmbiguousIfSerialize<_>>::some_item;
};
// Sessions can move to a sensor thread.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Session>();
    send::<Gate>();
};

struct Probe<T>(PhantomData<T>);
trait ViaSerialize {
    fn is_serialize(&self) -> bool {
        true
    }
}
impl<T: serde::Serialize> ViaSerialize for &Probe<T> {}
trait ViaPlain {
    fn is_serialize(&self) -> bool {
        false
    }
}
impl<T> ViaPlain for Probe<T> {}
macro_rules! is_serialize {
    ($t:ty) => {
        (&&Probe::<$t>(PhantomData)).is_serialize()
    };
}

#[test]
fn samples_and_sessions_are_not_serialize() {
    assert!(is_serialize!(ActivityEvent), "positive control");
    assert!(is_serialize!(Vec<ActivityEvent>), "positive control");
    assert!(!is_serialize!(Sample));
    assert!(!is_serialize!(Vec<Sample>));
    assert!(!is_serialize!(Session));
}

// ---------------------------------------------------------------------------------------------------------------

fn granted_gate(path: &Path, sensors: Sensors) -> Gate {
    let gate = Gate::open(path, KEY, P, 1).unwrap();
    gate.grant(1, CollectionMethod::InAppDialog, sensors).unwrap();
    gate
}

#[test]
fn a_session_counts_windows_without_gravity_and_reports_them_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let gate = granted_gate(&dir.path().join("c.json"), Sensors::ACCELEROMETER);
    // 20 s at 50 Hz of a gentle sway, first with gravity, then (a second session) as linear acceleration.
    let sway = |t_ns: i64, g: f32| {
        let t = t_ns as f32 * 1e-9;
        Sample::accel(t_ns, 0.2 * (3.0 * t).sin(), 0.1, g + 0.5 * (11.0 * t).sin())
    };
    // Then (a third) with gravity in g, as iOS's CoreMotion reports it: refused unjudged, window by window.
    for (g, expect_without, expect_in_g) in [(9.81f32, false, false), (0.0, true, false), (9.81, false, true)] {
        let mut session = gate.open_session_at(2).unwrap();
        let samples: Vec<Sample> = (0..1000)
            .map(|i| {
                let s = sway(i * 20_000_000, g);
                if expect_in_g {
                    Sample::accel(s.t_ns, s.accel.x / 9.81, s.accel.y / 9.81, s.accel.z / 9.81)
                } else {
                    s
                }
            })
            .collect();
        session.push(&samples).unwrap();
        let windows = session.windows_classified();
        assert!(windows >= 5, "{windows}");
        let without = session.windows_without_gravity();
        assert_eq!(without, if expect_without { windows } else { 0 }, "gravity {g}, in g {expect_in_g}");
        let refused = session.windows_refused();
        let expected = RefusedWindows { dead_sensor: 0, acceleration_in_g: if expect_in_g { windows } else { 0 } };
        assert_eq!(refused, expected, "gravity {g}, in g {expect_in_g}");
        // Every window of the stream in g was reported unknown.
        let events: Vec<_> = std::iter::from_fn(|| session.next_event()).collect();
        if expect_in_g {
            assert!(!events.is_empty() && events.iter().all(|e| e.activity == Activity::Unknown), "{events:?}");
        }
        let summary = session.close(3).unwrap();
        assert_eq!(summary.windows_classified, windows);
        assert_eq!(summary.windows_without_gravity, without);
        assert_eq!(summary.windows_refused, refused);
    }
}

#[test]
fn push_validates_and_names_the_sample_index() {
    let dir = tempfile::tempdir().unwrap();
    let gate = granted_gate(&dir.path().join("c.json"), Sensors::ACCELEROMETER);
    let mut session = gate.open_session_at(2).unwrap();
    assert_eq!(session.push(&[]), Ok(0));
    assert_eq!(session.push(&[s(1), s(2)]), Ok(0));
    let mut bad = s(4);
    bad.accel.x = f32::NAN;
    let err = session.push(&[s(3), bad, s(5)]).unwrap_err();
    assert!(matches!(err, SessionError::InvalidSample { index: 1, error: SampleError::NotFinite { .. } }));
    assert_eq!(session.push(&[s(3)]), Err(SessionError::InvalidSample { index: 0, error: SampleError::TimeRepeated }));
    assert_eq!(session.push(&[s(6)]), Ok(0));
    assert_eq!(session.gated(), None);
    // A gyroscope value out of range is not even looked at when the grant does not cover the gyroscope.
    let mut g = s(7);
    g.gyro = Some([0.0, 0.0, 1e9].into());
    assert_eq!(session.push(&[g]), Ok(0));
    assert!(session.id() > 0);
}

#[test]
fn withdraw_stops_and_wipes_every_session_before_returning() {
    let dir = tempfile::tempdir().unwrap();
    let gate = granted_gate(&dir.path().join("c.json"), Sensors::ALL);
    let mut a = gate.open_session_at(2).unwrap();
    let mut b = gate.open_session_at(3).unwrap();
    a.push(&[s(1), s(2)]).unwrap();
    b.push(&[s(1)]).unwrap();
    let report = gate.withdraw(4).unwrap();
    assert_eq!(report.sessions_stopped, 2);
    for sess in [&mut a, &mut b] {
        assert!(sess.raw_buffers_are_zero());
        assert_eq!(sess.gated(), Some(Gated::Withdrawn));
        assert_eq!(sess.push(&[s(10)]), Err(SessionError::Gated(Gated::Withdrawn)));
        assert_eq!(sess.next_event(), None);
    }
    // A new grant does not revive old sessions.
    gate.grant(5, CollectionMethod::InAppDialog, Sensors::ALL).unwrap();
    assert_eq!(a.push(&[s(11)]), Err(SessionError::Gated(Gated::Withdrawn)));
    let mut c = gate.open_session_at(6).unwrap();
    assert_eq!(c.push(&[s(1)]), Ok(0));
    // A re-grant supersedes the sessions opened under the previous grant.
    gate.grant(7, CollectionMethod::Settings, Sensors::ACCELEROMETER).unwrap();
    assert_eq!(c.push(&[s(2)]), Err(SessionError::Gated(Gated::Superseded)));
}

#[test]
fn policy_change_through_a_new_gate_stops_sessions_of_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    let gate = granted_gate(&path, Sensors::ALL);
    let mut session = gate.open_session_at(2).unwrap();
    session.push(&[s(1)]).unwrap();
    let newer = Gate::open(&path, KEY, P, 2).unwrap();
    assert_eq!(newer.state().kind(), StateKind::ReconsentRequired);
    assert_eq!(session.push(&[s(2)]), Err(SessionError::Gated(Gated::ReconsentRequired)));
    assert!(session.raw_buffers_are_zero());
    // Both gates see the same record.
    assert_eq!(gate.log(), newer.log());
}

#[test]
fn withdraw_wipes_a_session_used_on_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let gate = granted_gate(&dir.path().join("c.json"), Sensors::ALL);
    let mut session = gate.open_session_at(2).unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (withdrawn_tx, withdrawn_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let mut t = 0i64;
        let mut batch = [s(0); 64];
        let mut pushes = 0u64;
        loop {
            for x in batch.iter_mut() {
                t += 10_000_000;
                *x = s(t);
            }
            match session.push(&batch) {
                Ok(_) => {
                    pushes += 1;
                    if pushes == 10 {
                        started_tx.send(()).unwrap();
                    }
                }
                Err(SessionError::Gated(reason)) => {
                    // Wait until withdraw() has returned, then check the buffers without pushing again.
                    withdrawn_rx.recv().unwrap();
                    return (reason, session.raw_buffers_are_zero(), session.push(&batch), pushes);
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    started_rx.recv().unwrap();
    let report = gate.withdraw(3).unwrap();
    withdrawn_tx.send(()).unwrap();
    assert_eq!(report.sessions_stopped, 1);
    let (reason, zero, after, pushes) = worker.join().unwrap();
    assert!(pushes >= 10);
    assert_eq!(reason, Gated::Withdrawn);
    assert!(zero);
    assert_eq!(after, Err(SessionError::Gated(Gated::Withdrawn)));
}

// ---------------------------------------------------------------------------------------------------------------
// Property: over random histories, an activity is only ever delivered while a matching grant holds, gated pushes
// return the gated error and produce nothing, and after every withdrawal no buffer holds a non-zero byte.

#[derive(Debug, Clone)]
enum Op {
    Grant(bool),
    Deny,
    Withdraw,
    PolicyChange,
    Reopen,
    Open,
    OpenOtherPurpose,
    Push(usize, u8),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<bool>().prop_map(Op::Grant),
        1 => Just(Op::Deny),
        2 => Just(Op::Withdraw),
        1 => Just(Op::PolicyChange),
        1 => Just(Op::Reopen),
        3 => Just(Op::Open),
        1 => Just(Op::OpenOtherPurpose),
        5 => (any::<usize>(), 0u8..20).prop_map(|(i, n)| Op::Push(i, n)),
        1 => any::<usize>().prop_map(Op::Drop),
    ]
}

struct Live {
    session: Session,
    /// Opened under the grant that holds now (the model's view).
    valid: bool,
    t: i64,
}

fn expected_reason(kind: StateKind) -> Gated {
    match kind {
        StateKind::NotDetermined => Gated::NotDetermined,
        StateKind::Denied => Gated::Denied,
        StateKind::Withdrawn => Gated::Withdrawn,
        StateKind::ReconsentRequired => Gated::ReconsentRequired,
        StateKind::Granted => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn activity_only_while_a_matching_grant_holds(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consent.json");
        let mut version = 1u32;
        let mut gate = Gate::open(&path, KEY, P, version).unwrap();
        let other = Gate::open(&path, KEY, "other", 1).unwrap();
        let mut kind = StateKind::NotDetermined;
        let mut live: Vec<Live> = Vec::new();
        let mut at = 10u64;
        for op in ops {
            at += 1;
            match op {
                Op::Grant(gyro) => {
                    let sensors = if gyro { Sensors::ALL } else { Sensors::ACCELEROMETER };
                    gate.grant(at, CollectionMethod::Api, sensors).unwrap();
                    for l in &mut live { l.valid = false; }
                    kind = StateKind::Granted;
                }
                Op::Deny => {
                    let r = gate.deny(at);
                    if kind == StateKind::Granted {
                        let refused = matches!(r, Err(ConsentError::InvalidTransition { .. }));
                        prop_assert!(refused);
                    } else {
                        r.unwrap();
                        kind = StateKind::Denied;
                    }
                }
                Op::Withdraw => {
                    let expected_stopped = live.iter().filter(|l| l.valid).count() as u64;
                    let report = gate.withdraw(at).unwrap();
                    prop_assert_eq!(report.sessions_stopped, expected_stopped);
                    for l in &mut live {
                        l.valid = false;
                        prop_assert!(l.session.raw_buffers_are_zero());
                        prop_assert!(l.session.gated().is_some());
                    }
                    if matches!(kind, StateKind::Granted | StateKind::ReconsentRequired) {
                        kind = StateKind::Withdrawn;
                    }
                }
                Op::PolicyChange => {
                    version += 1;
                    gate = Gate::open(&path, KEY, P, version).unwrap();
                    if matches!(kind, StateKind::Granted | StateKind::ReconsentRequired) {
                        kind = StateKind::ReconsentRequired;
                        for l in &mut live { l.valid = false; }
                    }
                }
                Op::Reopen => {
                    gate = Gate::open(&path, KEY, P, version).unwrap();
                }
                Op::Open => match gate.open_session_at(at) {
                    Ok(session) => {
                        prop_assert_eq!(kind, StateKind::Granted);
                        live.push(Live { session, valid: true, t: 0 });
                    }
                    Err(e) => {
                        prop_assert_ne!(kind, StateKind::Granted);
                        prop_assert_eq!(e.gated(), Some(expected_reason(kind)));
                    }
                },
                Op::OpenOtherPurpose => {
                    let r = other.open_session_at(at);
                    prop_assert_eq!(r.err().and_then(|e| e.gated()), Some(Gated::NotDetermined));
                }
                Op::Push(i, n) if !live.is_empty() => {
                    let len = live.len();
                    let l = &mut live[i % len];
                    let batch: Vec<Sample> = (0..n).map(|k| s(l.t + 1 + i64::from(k))).collect();
                    let r = l.session.push(&batch);
                    if l.valid {
                        prop_assert!(r.is_ok(), "{:?}", r);
                        l.t += i64::from(n);
                    } else {
                        prop_assert!(matches!(r, Err(SessionError::Gated(_))), "{:?}", r);
                        prop_assert!(l.session.raw_buffers_are_zero());
                    }
                    // Events are only ever delivered by a session whose grant holds.
                    while let Some(_ev) = l.session.next_event() {
                        prop_assert!(l.valid);
                        prop_assert_eq!(kind, StateKind::Granted);
                    }
                    prop_assert_eq!(l.session.gated().is_none(), l.valid);
                }
                Op::Drop(i) if !live.is_empty() => {
                    let idx = i % live.len();
                    live.remove(idx);
                }
                Op::Push(..) | Op::Drop(_) => {}
            }
            prop_assert_eq!(gate.state().kind(), kind);
        }
        drop(live);
        prop_assert_eq!(gate.unlogged_session_closes(), 0);
        // The persisted record replays to the same state.
        let head = gate.head();
        drop(gate);
        drop(other);
        let reopened = Gate::open(&path, KEY, P, version).unwrap();
        prop_assert_eq!(reopened.state().kind(), kind);
        prop_assert_eq!(reopened.head(), head);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A writer process killed mid-write: the record read back is always a complete, valid one.

const CHILD_ENV: &str = "MOTIONGATE_CRASH_CHILD_STORE";

/// When run as the child (env var set), grants and withdraws forever; otherwise does nothing.
#[test]
fn crash_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    let mut at = 1_000u64;
    loop {
        at += 1;
        gate.grant(at, CollectionMethod::Api, Sensors::ALL).unwrap();
        let mut session = gate.open_session_at(at).unwrap();
        session.push(&[s(1), s(2)]).unwrap();
        at += 1;
        gate.withdraw(at).unwrap();
    }
}

#[test]
fn killing_a_writer_mid_write_leaves_a_valid_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consent.json");
    let exe = std::env::current_exe().unwrap();
    let mut last_len = 0usize;
    for round in 0..8u64 {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(40 + 23 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = Store::open(&path, KEY).unwrap();
        assert!(store.entries().len() >= last_len, "the record went backwards");
        last_len = store.entries().len();
        let gate = Gate::open(&path, KEY, P, 1).unwrap();
        assert!(matches!(gate.state().kind(), StateKind::Granted | StateKind::Withdrawn | StateKind::NotDetermined));
    }
    assert!(last_len > 0, "the child never wrote");
}
