//! Criterion benchmarks of the hot path and of offline evaluation.
//!
//! `cargo bench --bench pipeline` (about 1-2 minutes). Benchmarks:
//! - `features/extract_one_window`: `FeatureExtractor::extract` on one real 5 s window.
//! - `model/predict_one_window`: the embedded model on one real feature vector.
//! - `session/push_one_hop`: one hop (2.5 s = 125 samples at 50 Hz) through a gated `Session`, events drained.
//! - `session/push_one_hop_accel_only`: the same without the gyroscope (gravity from the plain low-pass).
//! - `session/stream_excerpt`: the whole 240 s excerpt through a fresh gated session (throughput in samples/s).
//! - `eval/classify_hapt_kcc2020`: `offline::classify` over every trace of `../shared/data/hapt_kcc2020`
//!   (skipped with a message when the folder is absent; loading the files is not timed).
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use motiongate::consent::{CollectionMethod, Gate, Sensors};
use motiongate::features::{FeatureExtractor, FeatureVector};
use motiongate::pipeline::{FrontEnd, PipelineConfig};
use motiongate::trace::csv::read_trace_csv;
use motiongate::trace::Trace;
use motiongate::window::WindowView;
use motiongate::{Model, Sample};

const KEY: &[u8] = b"bench-key-0123456789abcdef";
const PURPOSE: &str = "activity";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn excerpt() -> Trace {
    read_trace_csv(&crate_dir().join("data/hapt_user01_rec1_excerpt.csv")).expect("read the data excerpt")
}

/// A window from the middle of the excerpt (and the extractor state just before it, so `extract` sees real
/// context), captured through the public `FrontEnd::push` callback.
fn real_window(trace: &Trace) -> (WindowView, FeatureVector, FeatureVector) {
    let mut front = FrontEnd::new(PipelineConfig::default().max_gap_ns);
    let mut windows: Vec<(WindowView, FeatureVector, FeatureVector)> = Vec::new();
    for s in &trace.samples {
        front.push(s, |v, fv, slow| windows.push((v.clone(), *fv, *slow))).expect("excerpt sample accepted");
    }
    assert!(windows.len() > 20, "excerpt gives {} windows", windows.len());
    windows.swap_remove(windows.len() / 2)
}

/// A granted gate on a fresh record in `dir`.
fn granted_gate(dir: &Path) -> Gate {
    let gate = Gate::open(dir.join("consent.json"), KEY, PURPOSE, 1).expect("open gate");
    gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).expect("grant");
    gate
}

fn bench_features(c: &mut Criterion) {
    let trace = excerpt();
    let (view, _, _) = real_window(&trace);
    let mut fx = FeatureExtractor::new();
    let mut out = [0.0f32; motiongate::features::N_FEATURES];
    let mut g = c.benchmark_group("features");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function("extract_one_window", |b| {
        b.iter(|| {
            fx.extract(black_box(&view), &mut out);
            black_box(&out);
        })
    });
    g.finish();
}

fn bench_model(c: &mut Criterion) {
    let trace = excerpt();
    let (view, fv, slow) = real_window(&trace);
    let model = Model::embedded().expect("embedded model");
    let mut g = c.benchmark_group("model");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function("predict_one_window", |b| {
        b.iter(|| {
            black_box(model.predict(
                black_box(&fv),
                black_box(&slow),
                black_box(view.input_rate_hz),
                black_box(view.holds_gravity()),
            ))
        })
    });
    g.finish();
}

fn bench_session(c: &mut Criterion) {
    let trace = excerpt();
    let samples: &[Sample] = &trace.samples;
    let dir = tempfile::tempdir().expect("tempdir");
    let gate = granted_gate(dir.path());
    let mut g = c.benchmark_group("session");

    // One hop at 50 Hz = 125 samples: with the gyroscope (the low-pass turned by it) and without it (plain low-pass).
    let accel_only: Vec<Sample> = samples.iter().map(|s| Sample { gyro: None, ..*s }).collect();
    push_one_hop(&mut g, &gate, "push_one_hop", samples);
    push_one_hop(&mut g, &gate, "push_one_hop_accel_only", &accel_only);

    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("stream_excerpt", |b| {
        b.iter_batched(
            || gate.open_session().expect("open session"),
            |mut session| {
                let mut events = 0usize;
                for chunk in samples.chunks(HOP_SAMPLES) {
                    session.push(chunk).expect("push");
                    while let Some(ev) = session.next_event() {
                        black_box(ev);
                        events += 1;
                    }
                }
                (session, events)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// One hop of 50 Hz input: 2.5 s.
const HOP_SAMPLES: usize = 125;

/// One hop (125 samples) per iteration through one warm session; cycles through `samples`, shifting time so it
/// stays monotonic. The shifted copy of each hop is made in criterion's untimed setup, so only `Session::push` and
/// draining its events are measured (copying 5 KB per hop used to be timed with them).
fn push_one_hop(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    gate: &Gate,
    name: &str,
    samples: &[Sample],
) {
    const HOP: usize = HOP_SAMPLES;
    let span_ns = samples.last().unwrap().t_ns - samples[0].t_ns + 20_000_000;
    let mut session = gate.open_session().expect("open session");
    let mut pos = 0usize;
    let mut lap = 0i64;
    // Warm up past the first window so every measured hop completes one window.
    session.push(&samples[..HOP * 4]).expect("warm-up push");
    while session.next_event().is_some() {}
    pos += HOP * 4;
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(HOP as u64));
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || {
                if pos + HOP > samples.len() {
                    pos = 0;
                    lap += 1;
                }
                let hop: Vec<Sample> =
                    samples[pos..pos + HOP].iter().map(|s| Sample { t_ns: s.t_ns + lap * span_ns, ..*s }).collect();
                pos += HOP;
                hop
            },
            |hop| {
                let n = session.push(black_box(hop)).expect("push hop");
                while let Some(ev) = session.next_event() {
                    black_box(ev);
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
}

fn bench_eval(c: &mut Criterion) {
    let dir = crate_dir().join("../shared/data/hapt_kcc2020");
    if !dir.is_dir() {
        println!("eval/classify_hapt_kcc2020: skipped: {} not found", dir.display());
        return;
    }
    let traces = motiongate::datasets::DatasetKind::HaptKcc2020.load(&dir).expect("load hapt_kcc2020");
    let samples: u64 = traces.iter().map(|t| t.samples.len() as u64).sum();
    let model = Model::embedded().expect("embedded model");
    let cfg = PipelineConfig::default();
    let mut g = c.benchmark_group("eval");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(samples));
    g.bench_function("classify_hapt_kcc2020", |b| {
        b.iter(|| {
            let mut decisions = 0usize;
            for t in &traces {
                decisions += motiongate::offline::classify(t, model.clone(), &cfg).expect("classify").len();
            }
            decisions
        })
    });
    g.finish();
}

criterion_group!(benches, bench_features, bench_model, bench_session, bench_eval);
criterion_main!(benches);
