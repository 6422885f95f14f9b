//! A gated session driven by an arbitrary sequence of samples and consent events (grant, deny, withdraw,
//! reopen the gate, open a session, drain events). Never panics; pushes after consent ends are refused with
//! `Gated`; every event is well formed.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::tmp_root;
use motiongate::consent::{CollectionMethod, Gate, Sensors};
use motiongate::{Sample, Session, SessionError};

const KEY: &[u8] = b"motiongate-fuzz-key-0123456789ab";

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_le_bytes([self.u8()?, self.u8()?]))
    }
}

fn sample(b: &mut Bytes, t_ns: &mut i64) -> Option<Sample> {
    let kind = b.u8()?;
    // Time step: mostly around 20 ms (50 Hz), sometimes zero, negative, a long gap, or a jump to anywhere in the
    // i64 range (device clocks are arbitrary).
    let dt: i64 = match kind & 0x7 {
        0 => 0,
        1 => {
            // A jump to anywhere in the i64 range (tests/bad_input.rs pins the two extremes).
            *t_ns = i64::from(b.i16()?) << 48;
            0
        }
        2 => i64::from(b.u8()?) * 100_000_000,                   // up to 25 s
        3 => i64::from(b.i16()?.unsigned_abs()) * 1_000_000_000, // up to 9 h
        _ => 1_000_000 + i64::from(b.u8()?) * 100_000,
    };
    *t_ns = t_ns.saturating_add(dt);
    // Accel: +-327 m/s^2 (beyond the 16 g limit), occasionally non-finite.
    let mut a = [0f32; 3];
    for v in a.iter_mut() {
        *v = f32::from(b.i16()?) / 100.0;
    }
    if kind & 0x40 != 0 {
        a[(kind as usize >> 3) % 3] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][(kind as usize) % 3];
    }
    if kind & 0x80 != 0 {
        let g = [f32::from(b.i16()?) / 500.0, f32::from(b.i16()?) / 500.0, f32::from(b.i16()?) / 500.0];
        Some(Sample::with_gyro(*t_ns, a, g))
    } else {
        Some(Sample::accel(*t_ns, a[0], a[1], a[2]))
    }
}

fn drain(s: &mut Session) {
    while let Some(e) = s.next_event() {
        assert!(e.confidence.is_finite() && (0.0..=1.0).contains(&e.confidence), "{e:?}");
        assert!(e.start_ns <= e.end_ns, "{e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::Builder::new().tempdir_in(tmp_root()).expect("tempdir");
    let path = dir.path().join("consent.json");
    let mut b = Bytes(data);
    let mut policy = 1u32;
    let mut gate = Gate::open(&path, KEY, "activity", policy).expect("fresh record");
    let mut session: Option<Session> = None;
    let mut t_ns = 0i64;
    let mut at_ms = 1_700_000_000_000u64;
    let mut buf: Vec<Sample> = Vec::with_capacity(256);
    while let Some(op) = b.u8() {
        at_ms += 1000;
        match op {
            0..=199 => {
                buf.clear();
                for _ in 0..=(op % 128) {
                    match sample(&mut b, &mut t_ns) {
                        Some(s) => buf.push(s),
                        None => break,
                    }
                }
                if let Some(s) = session.as_mut() {
                    let gated_before = s.gated();
                    match s.push(&buf) {
                        Ok(_) => assert!(gated_before.is_none()),
                        Err(SessionError::Gated(_)) => assert!(s.raw_buffers_are_zero()),
                        Err(SessionError::InvalidSample { index, .. }) => assert!(index < buf.len()),
                        // Only a panic inside a push faults a session, and a panic here is already a finding.
                        Err(SessionError::Faulted) => panic!("a session faulted without a panic"),
                    }
                    drain(s);
                }
            }
            200..=214 => {
                let sensors = if op & 1 == 0 { Sensors::ALL } else { Sensors::ACCELEROMETER };
                let _ = gate.grant(at_ms, CollectionMethod::Api, sensors);
            }
            215..=224 => {
                let _ = gate.deny(at_ms);
            }
            225..=234 => {
                let was_granted = gate.state().gated().is_none();
                let r = gate.withdraw(at_ms);
                if was_granted {
                    r.expect("withdraw from granted");
                    if let Some(s) = session.as_mut() {
                        assert!(s.gated().is_some(), "withdrawal stops the session before returning");
                        assert!(s.raw_buffers_are_zero(), "withdrawal wipes the session");
                        assert!(matches!(
                            s.push(&[Sample::accel(i64::MAX, 0.0, 0.0, 9.8)]),
                            Err(SessionError::Gated(_))
                        ));
                    }
                }
            }
            235..=244 => {
                // Reopen the gate, sometimes at a newer policy version.
                session = None;
                if op & 1 == 1 {
                    policy = policy.saturating_add(1);
                }
                gate = Gate::open(&path, KEY, "activity", policy).expect("reopen own record");
            }
            _ => {
                drop(session.take()); // closes (and logs) the previous session first
                session = gate.open_session().ok();
                assert_eq!(session.is_some(), gate.state().gated().is_none());
            }
        }
    }
});
