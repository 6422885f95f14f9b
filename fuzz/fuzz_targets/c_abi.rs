//! The C ABI fed arbitrary arguments where that is memory-safe: arbitrary sample contents and counts (with
//! buffers that really hold them), NULL handles and out-pointers, keys of any length, purposes from a small
//! dictionary (and, rarely, an invalid one), policy versions and times, in any order of calls. Every call must
//! return a status (never panic or crash), and no event may come out of a session that is not valid: one opened
//! after the last grant, deny, withdrawal or policy change of its purpose.
//!
//! Sample times come from a clock kept across pushes (1 to 40 ms per sample, now and then a gap of seconds or one
//! sample out of order), so streams run for as long as the input lasts and windows (5 s) really classify.
#![no_main]

use std::ffi::CString;
use std::ptr;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use motiongate_ffi::*;

/// Calls that write the consent record, per input. Each write rewrites the whole record, so an input made of
/// thousands of grants spent seconds in it (2 executions/s); real hosts write a few entries per session.
const MAX_RECORD_WRITES: usize = 32;

/// Valid purpose names: most inputs should get past `mg_gate_open`.
const PURPOSES: [&[u8]; 4] = [b"activity", b"commute-detection", b"fitness.v2", b"a"];
/// Purposes `mg_gate_open` must refuse (empty, upper case, not UTF-8), picked for 8 of 256 values of the byte.
const BAD_PURPOSES: [&[u8]; 3] = [b"", b"Activity", b"activity\xff"];

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (a, b) = data.split_at(n);
    *data = b;
    a
}

fn byte(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}

/// The time of the next sample from its time byte, advancing `clock_ns`: 1 to 40 ms for bytes 0..=249 (19 is
/// 20 ms, i.e. 50 Hz), a gap of 2 to 10 s for 250..=254, and for 255 a sample 1 s before the last one (refused as
/// out of order) that leaves the clock where it was.
fn next_time(clock_ns: &mut i64, b: u8) -> i64 {
    const MS: i64 = 1_000_000;
    match b {
        0..=249 => *clock_ns += (1 + i64::from(b % 40)) * MS,
        250..=254 => *clock_ns += i64::from(b - 249) * 2_000 * MS,
        255 => return *clock_ns - 1_000 * MS,
    }
    *clock_ns
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let dir = tempfile::Builder::new().tempdir_in(common::tmp_root()).expect("temp dir");
    let store = CString::new(dir.path().join("consent.json").to_string_lossy().as_bytes()).expect("path");
    // Keys of 16..=39 bytes (valid); for 16 of the 256 values of the length byte, 0..=15 bytes (refused).
    let k = byte(&mut data);
    let key_len = if k >= 240 { usize::from(k % 16) } else { 16 + usize::from(k % 24) };
    let key = take(&mut data, key_len).to_vec();
    let p = byte(&mut data);
    let purpose = if p >= 248 { BAD_PURPOSES[usize::from(p) % 3] } else { PURPOSES[usize::from(p) % 4] };
    let purpose = CString::new(purpose).expect("no NUL");
    let mut version = u32::from(byte(&mut data) % 4);
    let open_gate = |version: u32, gate: &mut *mut mg_gate| {
        // SAFETY: valid C strings, a key buffer of key_len bytes (or NULL for 0), a valid out-pointer.
        unsafe {
            mg_gate_open(
                store.as_ptr(),
                if key.is_empty() { ptr::null() } else { key.as_ptr() },
                key.len(),
                purpose.as_ptr(),
                version,
                gate,
            )
        }
    };
    let mut gate: *mut mg_gate = ptr::null_mut();
    if open_gate(version, &mut gate) != mg_status::MG_OK {
        assert!(gate.is_null());
        return;
    }
    let mut session: *mut mg_session = ptr::null_mut();
    // Whether `session` may still classify: set only when mg_session_open succeeds, cleared by anything that ends
    // or supersedes the consent it was opened under (a grant, deny or withdrawal that took effect, also when the
    // record could not be written, and a gate opened at a newer policy version). Per session, not per gate: a
    // session opened before a withdrawal and a new grant must stay stopped.
    let mut session_valid = false;
    // Whether a grant, deny, withdrawal or gate open changed the consent state: MG_ERR_STORE_IO means it did in
    // memory but could not be written; other errors are refusals that change nothing.
    let took_effect = |st: mg_status| matches!(st, mg_status::MG_OK | mg_status::MG_ERR_STORE_IO);
    let mut clock_ns = 0i64;
    let mut record_writes = 0usize;
    while !data.is_empty() {
        let mut op = byte(&mut data) % 12;
        if matches!(op, 0 | 1 | 2 | 3 | 6 | 10) {
            // Grant, deny, withdraw, session open and close append to the record, which is rewritten (and on a
            // reopen verified) in full each time: past the budget, these calls become a state read.
            if record_writes == MAX_RECORD_WRITES {
                op = 7;
            } else {
                record_writes += 1;
            }
        }
        // SAFETY (all calls below): handles are either valid (from the library) or NULL, which every function
        // accepts; sample buffers hold exactly `n` samples; out-pointers point to live locals.
        unsafe {
            match op {
                0 => {
                    if took_effect(mg_gate_grant(gate, i64::from(byte(&mut data)) * 1000)) {
                        session_valid = false;
                    }
                }
                1 => {
                    if took_effect(mg_gate_deny(gate, 5)) {
                        session_valid = false;
                    }
                }
                2 => {
                    let mut wiped = 0u64;
                    if took_effect(mg_gate_withdraw(gate, 7, &mut wiped)) {
                        session_valid = false;
                    }
                }
                3 => {
                    if session.is_null() {
                        let st = mg_session_open(gate, &mut session);
                        assert!(st == mg_status::MG_OK || session.is_null());
                        session_valid = st == mg_status::MG_OK;
                    }
                }
                4 => {
                    let n = (byte(&mut data) % 64) as usize;
                    let raw = take(&mut data, n * 8);
                    let samples: Vec<mg_sample> = raw
                        .chunks(8)
                        .map(|c| {
                            let at = |k: usize| c.get(k).copied().unwrap_or(0);
                            let f = |k: usize| f32::from(at(k) as i8) * 0.5;
                            mg_sample {
                                t_ns: next_time(&mut clock_ns, at(0)),
                                ax: f(1),
                                ay: f(2),
                                az: f(3) + 9.8,
                                gx: f(4) * 0.1,
                                gy: f(5) * 0.1,
                                gz: f(6) * 0.1,
                                // 0 or 1, and now and then an invalid 2 (the push stops there).
                                has_gyro: if at(7) == 255 { 2 } else { at(7) & 1 },
                            }
                        })
                        .collect();
                    let _ = mg_session_push(session, samples.as_ptr(), samples.len());
                }
                5 => {
                    // Drain what is pending (at most a few windows' worth of events per push).
                    for _ in 0..16 {
                        let mut ev = mg_event::default();
                        let st = mg_session_next_event(session, &mut ev);
                        if st != mg_status::MG_OK {
                            break;
                        }
                        assert!(session_valid, "an event came out of a session that consent no longer covers");
                        assert!(ev.start_ns <= ev.end_ns && ev.end_ns <= clock_ns, "{ev:?}");
                        assert!((0.0..=1.0).contains(&ev.confidence), "{ev:?}");
                    }
                }
                6 => {
                    mg_session_free(session);
                    session = ptr::null_mut();
                    session_valid = false;
                }
                8 => {
                    // The status probe and the record head, with a buffer of any size up to 80 bytes.
                    let st = mg_session_status(session);
                    assert!(st != mg_status::MG_OK || session_valid, "a stopped session reports MG_OK");
                    let mut count = 0u64;
                    let mut hash = [0 as std::ffi::c_char; 80];
                    let cap = usize::from(byte(&mut data)) % (hash.len() + 1);
                    let st = mg_gate_head(gate, &mut count, hash.as_mut_ptr(), cap);
                    assert!(st == mg_status::MG_OK || cap < MG_HEAD_HASH_SIZE, "{st:?} with hash_cap {cap}");
                    if st == mg_status::MG_OK {
                        assert_eq!(hash[MG_HEAD_HASH_SIZE - 1], 0, "the hash is NUL-terminated");
                        // Reopen against that head, or against one with a digit or the count changed: a head that
                        // is not the record's must never open it.
                        let change = byte(&mut data);
                        let (mut count_expected, mut hash_expected) = (count, hash);
                        match change % 4 {
                            0 => {}
                            1 => count_expected = count.wrapping_add(1),
                            _ => {
                                let i = usize::from(change) % 64;
                                hash_expected[i] = if hash_expected[i] == b'0' as std::ffi::c_char {
                                    b'1' as std::ffi::c_char
                                } else {
                                    b'0' as std::ffi::c_char
                                };
                            }
                        }
                        let mut checked: *mut mg_gate = ptr::null_mut();
                        let st = mg_gate_open_checked(
                            store.as_ptr(),
                            if key.is_empty() { ptr::null() } else { key.as_ptr() },
                            key.len(),
                            purpose.as_ptr(),
                            version,
                            count_expected,
                            hash_expected.as_ptr(),
                            &mut checked,
                        );
                        assert!(change.is_multiple_of(4) || st != mg_status::MG_OK, "another head opened the record");
                        assert_eq!(checked.is_null(), st != mg_status::MG_OK);
                        mg_gate_free(checked);
                    }
                }
                7 => {
                    let mut state = mg_consent_state::MG_CONSENT_NOT_DETERMINED;
                    let _ = mg_gate_state(gate, &mut state);
                    let _ = mg_gate_state(gate, ptr::null_mut());
                }
                9 => {
                    // The window counts: readable in every consent state; the windows without gravity and the
                    // windows refused are disjoint parts of the windows classified.
                    let (mut classified, mut without_gravity) = (u64::MAX, u64::MAX);
                    let (mut dead, mut in_g) = (u64::MAX, u64::MAX);
                    let st = mg_session_windows(session, &mut classified, &mut without_gravity);
                    let st_refused = mg_session_windows_refused(session, &mut dead, &mut in_g);
                    let (mut contradicting, mut ignored) = (u64::MAX, u64::MAX);
                    let st_gyro = mg_session_gyroscope(session, &mut contradicting, &mut ignored);
                    if session.is_null() {
                        assert_eq!(st, mg_status::MG_ERR_INVALID_ARGUMENT);
                        assert_eq!(st_refused, mg_status::MG_ERR_INVALID_ARGUMENT);
                        assert_eq!(st_gyro, mg_status::MG_ERR_INVALID_ARGUMENT);
                    } else {
                        assert_eq!(st, mg_status::MG_OK);
                        assert_eq!(st_refused, mg_status::MG_OK);
                        assert_eq!(st_gyro, mg_status::MG_OK);
                        assert!(
                            without_gravity + dead + in_g <= classified,
                            "{without_gravity} + {dead} + {in_g} of {classified}"
                        );
                        assert!(contradicting <= classified && ignored <= 1, "{contradicting} {ignored}");
                    }
                    let _ = mg_session_windows(session, ptr::null_mut(), &mut without_gravity);
                    let _ = mg_session_windows(session, &mut classified, ptr::null_mut());
                    let _ = mg_session_windows_refused(session, ptr::null_mut(), &mut in_g);
                    let _ = mg_session_windows_refused(session, &mut dead, ptr::null_mut());
                    let _ = mg_session_gyroscope(session, ptr::null_mut(), &mut ignored);
                    let _ = mg_session_gyroscope(session, &mut contradicting, ptr::null_mut());
                }
                10 => {
                    // Reopen the gate on the same record, at the same or the next policy version. A newer version
                    // stops the purpose's sessions granted under the older one; the old gate is freed only once
                    // the new one is open (sessions outlive their gate either way).
                    let next = version.saturating_add(u32::from(byte(&mut data) & 1));
                    let mut reopened: *mut mg_gate = ptr::null_mut();
                    let st = open_gate(next, &mut reopened);
                    if next > version && took_effect(st) {
                        session_valid = false;
                    }
                    if st == mg_status::MG_OK {
                        mg_gate_free(gate);
                        gate = reopened;
                        version = next;
                    } else {
                        assert!(reopened.is_null());
                    }
                }
                _ => {
                    // NULL and bad-length arguments.
                    let _ = mg_session_push(session, ptr::null(), 5);
                    let _ = mg_session_push(ptr::null_mut(), ptr::null(), 0);
                    let _ = mg_session_next_event(session, ptr::null_mut());
                    let _ = mg_gate_withdraw(ptr::null_mut(), 0, ptr::null_mut());
                    let _ = mg_status_str(i32::from(byte(&mut data)));
                }
            }
        }
    }
    // SAFETY: handles from the library (or NULL), freed once.
    unsafe {
        mg_session_free(session);
        mg_gate_free(gate);
    }
});
