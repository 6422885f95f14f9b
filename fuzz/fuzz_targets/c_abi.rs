//! The C ABI fed arbitrary arguments where that is memory-safe: arbitrary sample contents and counts (with
//! buffers that really hold them), NULL handles and out-pointers, arbitrary purposes (including non-UTF-8 and
//! embedded NULs), keys of any length, policy versions and times, in any order of calls. Every call must return a
//! status (never panic or crash), and no event may come out of a session that is not granted.
#![no_main]

use std::ffi::CString;
use std::ptr;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use motiongate_ffi::*;

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (a, b) = data.split_at(n);
    *data = b;
    a
}

fn byte(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let dir = tempfile::Builder::new().tempdir_in(common::tmp_root()).expect("temp dir");
    let store = CString::new(dir.path().join("consent.json").to_string_lossy().as_bytes()).expect("path");
    let key_len = (byte(&mut data) % 40) as usize;
    let key = take(&mut data, key_len).to_vec();
    let purpose_len = (byte(&mut data) % 12) as usize;
    let mut purpose = take(&mut data, purpose_len).to_vec();
    purpose.retain(|&b| b != 0);
    let purpose = CString::new(purpose).expect("no NUL");
    let mut gate: *mut mg_gate = ptr::null_mut();
    let version = u32::from(byte(&mut data) % 4);
    // SAFETY: valid C strings, a key buffer of key_len bytes (or NULL for 0), a valid out-pointer.
    let st = unsafe {
        mg_gate_open(
            store.as_ptr(),
            if key.is_empty() { ptr::null() } else { key.as_ptr() },
            key.len(),
            purpose.as_ptr(),
            version,
            &mut gate,
        )
    };
    if st != mg_status::MG_OK {
        assert!(gate.is_null());
        return;
    }
    let mut session: *mut mg_session = ptr::null_mut();
    let mut granted = false;
    while !data.is_empty() {
        let op = byte(&mut data) % 11;
        // SAFETY (all calls below): handles are either valid (from the library) or NULL, which every function
        // accepts; sample buffers hold exactly `n` samples; out-pointers point to live locals.
        unsafe {
            match op {
                0 => {
                    granted = mg_gate_grant(gate, i64::from(byte(&mut data)) * 1000) == mg_status::MG_OK || granted;
                }
                1 => {
                    if mg_gate_deny(gate, 5) == mg_status::MG_OK {
                        granted = false;
                    }
                }
                2 => {
                    let mut wiped = 0u64;
                    if mg_gate_withdraw(gate, 7, &mut wiped) == mg_status::MG_OK {
                        granted = false;
                    }
                }
                3 => {
                    if session.is_null() {
                        let st = mg_session_open(gate, &mut session);
                        assert!(st == mg_status::MG_OK || session.is_null());
                    }
                }
                4 => {
                    let n = (byte(&mut data) % 64) as usize;
                    let raw = take(&mut data, n * 8);
                    let samples: Vec<mg_sample> = raw
                        .chunks(8)
                        .enumerate()
                        .map(|(i, c)| {
                            let f = |k: usize| f32::from(c.get(k).copied().unwrap_or(0) as i8) * 0.5;
                            mg_sample {
                                t_ns: i as i64 * 20_000_000 + i64::from(c.first().copied().unwrap_or(0)) * 1_000_000,
                                ax: f(1),
                                ay: f(2),
                                az: f(3) + 9.8,
                                gx: f(4) * 0.1,
                                gy: f(5) * 0.1,
                                gz: f(6) * 0.1,
                                has_gyro: c.get(7).copied().unwrap_or(0) % 3,
                            }
                        })
                        .collect();
                    let _ = mg_session_push(session, samples.as_ptr(), samples.len());
                }
                5 => {
                    let mut ev = std::mem::MaybeUninit::<mg_event>::zeroed().assume_init();
                    let st = mg_session_next_event(session, &mut ev);
                    if st == mg_status::MG_OK {
                        assert!(granted, "an event came out of a session without a grant");
                    }
                }
                6 => {
                    mg_session_free(session);
                    session = ptr::null_mut();
                }
                8 => {
                    // The status probe and the record head, with a buffer of any size up to 80 bytes.
                    let _ = mg_session_status(session);
                    let mut count = 0u64;
                    let mut hash = [0 as std::ffi::c_char; 80];
                    let cap = usize::from(byte(&mut data)) % (hash.len() + 1);
                    let st = mg_gate_head(gate, &mut count, hash.as_mut_ptr(), cap);
                    assert!(st == mg_status::MG_OK || cap < MG_HEAD_HASH_SIZE, "{st:?} with hash_cap {cap}");
                    if st == mg_status::MG_OK {
                        assert_eq!(hash[MG_HEAD_HASH_SIZE - 1], 0, "the hash is NUL-terminated");
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
