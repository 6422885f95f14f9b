//! The C ABI's push: the cost a host pays per call on top of the session itself (the argument checks, the copy
//! into the stack buffer, and the wipe of that buffer), with the real HAPT excerpt at 50 Hz with a gyroscope.
//!
//! `cargo bench -p motiongate-ffi --bench c_abi`
#![allow(clippy::undocumented_unsafe_blocks)] // bench code: every call passes live handles and exact lengths

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use motiongate_ffi::*;

#[path = "../tests/common/mod.rs"]
mod common;

fn push(c: &mut Criterion) {
    let trace = common::excerpt();
    let mut group = c.benchmark_group("c_abi");
    // One sample per call (a host that forwards every sensor event), and a 1-s batch of 50.
    for per_call in [1usize, 50] {
        group.throughput(Throughput::Elements(per_call as u64));
        group.bench_function(format!("push_{per_call}_per_call"), |b| {
            let dir = tempfile::tempdir().expect("temp dir");
            let (g, s) = common::granted_session(&dir.path().join("r.json"));
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
                let mut ev = mg_event::default();
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
