//! The C ABI's push: the cost a host pays per call on top of the session itself (the argument checks, the copy
//! into the stack buffer, and the wipe of that buffer), with the real HAPT excerpt at 50 Hz with a gyroscope.
//!
//! `cargo bench -p motiongate-ffi --bench c_abi`
#![allow(clippy::undocumented_unsafe_blocks)] // bench code: every call passes live handles and exact lengths

use std::ffi::CString;
use std::hint::black_box;
use std::ptr::null_mut;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use motiongate_ffi::*;

const KEY: [u8; 32] = [7; 32];

fn excerpt() -> Vec<mg_sample> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/hapt_user01_rec1_excerpt.csv");
    let text = std::fs::read_to_string(path).expect("read the trace excerpt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("t,") && !l.is_empty())
        .map(|line| {
            let f: Vec<f64> = line.split(',').take(7).map(|x| x.parse().expect("number")).collect();
            mg_sample {
                t_ns: (f[0] * 1e9).round() as i64,
                ax: f[1] as f32,
                ay: f[2] as f32,
                az: f[3] as f32,
                gx: f[4] as f32,
                gy: f[5] as f32,
                gz: f[6] as f32,
                has_gyro: 1,
            }
        })
        .collect()
}

/// A granted session on a fresh record in `dir`.
fn open_session(dir: &tempfile::TempDir) -> (*mut mg_gate, *mut mg_session) {
    let path = CString::new(dir.path().join("r.json").to_str().expect("utf-8 path")).expect("no NUL");
    let (mut g, mut s) = (null_mut(), null_mut());
    unsafe {
        assert_eq!(
            mg_gate_open(path.as_ptr(), KEY.as_ptr(), KEY.len(), c"bench".as_ptr(), 1, &mut g),
            mg_status::MG_OK
        );
        assert_eq!(mg_gate_grant(g, 1), mg_status::MG_OK);
        assert_eq!(mg_session_open(g, &mut s), mg_status::MG_OK);
    }
    (g, s)
}

fn push(c: &mut Criterion) {
    let trace = excerpt();
    let mut group = c.benchmark_group("c_abi");
    // One sample per call (a host that forwards every sensor event), and a 1-s batch of 50.
    for per_call in [1usize, 50] {
        group.throughput(Throughput::Elements(per_call as u64));
        group.bench_function(format!("push_{per_call}_per_call"), |b| {
            let dir = tempfile::tempdir().expect("temp dir");
            let (g, s) = open_session(&dir);
            let span_ns = trace[trace.len() - 1].t_ns - trace[0].t_ns + 20_000_000;
            let (mut pos, mut offset_ns) = (0, 0);
            let mut batch = trace[..per_call].to_vec();
            b.iter(|| {
                if pos + per_call > trace.len() {
                    // Replay the trace later in time on the same session (reopening would time the record's
                    // writes, not the push).
                    pos = 0;
                    offset_ns += span_ns;
                }
                for (out, x) in batch.iter_mut().zip(&trace[pos..pos + per_call]) {
                    *out = mg_sample { t_ns: x.t_ns + offset_ns, ..*x };
                }
                let st = unsafe { mg_session_push(black_box(s), batch.as_ptr(), per_call) };
                pos += per_call;
                let mut ev = mg_event {
                    start_ns: 0,
                    end_ns: 0,
                    activity: mg_activity::MG_UNKNOWN,
                    confidence: 0.0,
                    kind: mg_event_kind::MG_UPDATE,
                };
                while unsafe { mg_session_next_event(s, &mut ev) } == mg_status::MG_OK {}
                black_box(st)
            });
            unsafe {
                mg_session_free(s);
                mg_gate_free(g);
            }
        });
    }
    group.finish();
}

criterion_group!(benches, push);
criterion_main!(benches);
