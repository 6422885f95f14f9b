//! Shared by the C ABI tests (`tests/abi.rs`) and the C ABI benchmark (`benches/c_abi.rs`): the real HAPT excerpt
//! as C samples, and gates and sessions opened through the C ABI.
#![allow(dead_code)] // each user takes what it needs
#![allow(clippy::undocumented_unsafe_blocks)] // test code: every call passes live handles or local out-pointers

use std::ffi::CString;
use std::path::Path;
use std::ptr::null_mut;

use motiongate::trace::csv::read_trace_csv;
use motiongate_ffi::*;

pub const KEY: [u8; 32] = [7; 32];
pub const T0: i64 = 1_700_000_000_000;

/// The excerpt committed in `data/` (UCI HAPT, 50 Hz, accelerometer and gyroscope), read with the project's own
/// trace reader.
pub fn excerpt() -> Vec<mg_sample> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/hapt_user01_rec1_excerpt.csv");
    let trace = read_trace_csv(Path::new(path)).expect("read the trace excerpt");
    let out: Vec<mg_sample> = trace
        .samples
        .iter()
        .map(|s| {
            let g = s.gyro.unwrap_or_default();
            mg_sample {
                t_ns: s.t_ns,
                ax: s.accel.x,
                ay: s.accel.y,
                az: s.accel.z,
                gx: g.x,
                gy: g.y,
                gz: g.z,
                has_gyro: u8::from(s.gyro.is_some()),
            }
        })
        .collect();
    assert!(out.len() > 10_000 && out.iter().all(|s| s.has_gyro == 1));
    out
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// `mg_gate_open` on `path` for purpose "activity" with [`KEY`].
pub fn open(path: &str, policy: u32) -> (mg_status, *mut mg_gate) {
    let p = cstr(path);
    let mut g = null_mut();
    let s = unsafe { mg_gate_open(p.as_ptr(), KEY.as_ptr(), KEY.len(), c"activity".as_ptr(), policy, &mut g) };
    (s, g)
}

/// A gate on a new record at `path`, granted (both sensors) at [`T0`], and a session opened from it.
pub fn granted_session(path: &Path) -> (*mut mg_gate, *mut mg_session) {
    let (st, g) = open(path.to_str().expect("UTF-8 path"), 1);
    assert_eq!(st, mg_status::MG_OK);
    let mut s = null_mut();
    unsafe {
        assert_eq!(mg_gate_grant(g, T0), mg_status::MG_OK);
        assert_eq!(mg_session_open(g, &mut s), mg_status::MG_OK);
    }
    (g, s)
}
