//! Offline processing of recorded traces (feature `offline`): the same front end, model and smoother as a live
//! session, driven from a [`Trace`] instead of a sensor.
//!
//! This is the only way to classify samples without a consent gate, and it exists only in desktop builds: the
//! phone build does not compile it.

use std::sync::Arc;

use nalgebra::{Rotation3, Vector3};

use crate::event::EventKind;
use crate::features::{FeatureExtractor, FeatureVector, N_FEATURES};
use crate::model::{Model, N_CLASSES};
use crate::pipeline::{FrontEnd, Pipeline, PipelineConfig};
use crate::resample::Continuity;
use crate::sample::{Activity, Label, Sample, SampleError, MAX_ACCEL_MS2, MAX_GYRO_RADS};
use crate::smooth::Smoother;
use crate::trace::{seconds_between, Trace};
use crate::window::{slow_view, WindowView};

/// A sample of a recorded trace that the pipeline refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{trace}: sample {index}: {error}")]
pub struct TraceSampleError {
    /// Trace name.
    pub trace: String,
    /// 0-based index of the sample in the trace.
    pub index: usize,
    /// Why it was refused.
    pub error: SampleError,
}

/// One window of a trace with its features and ground truth.
#[derive(Debug, Clone)]
pub struct WindowRecord {
    /// Window start, ns.
    pub start_ns: i64,
    /// Window end, ns.
    pub end_ns: i64,
    /// Input rate over the window, Hz.
    pub input_rate_hz: f32,
    /// Whether a session would judge the window (see [`crate::pipeline::RefusalCheck`]).
    pub classifiable: bool,
    /// Whether training learns from the window ([`crate::pipeline::RefusalRule::Training`]).
    pub learnable: bool,
    /// Whether the window's input held gravity ([`crate::window::WindowView::holds_gravity`]): which of the model's
    /// experts judges it.
    pub holds_gravity: bool,
    /// Longest gap between input samples since the previous window, ns (decides smoother resets on replay).
    pub max_gap_before_ns: i64,
    /// The feature vector.
    pub features: FeatureVector,
    /// The feature vector of the window's slow view.
    pub slow_features: FeatureVector,
    /// The window's and its slow view's features computed blind to gravity's direction (what the gravity-free
    /// expert learns from; see [`featurize_for_training`]), when they were asked for.
    pub gravity_blind: Option<Box<[FeatureVector; 2]>>,
    /// Majority label of the samples in the window and the fraction it covers.
    pub truth: Option<(Label, f32)>,
}

/// Computes every window's features for a trace (what a live session would compute).
pub fn featurize(trace: &Trace, config: &PipelineConfig) -> Result<Vec<WindowRecord>, TraceSampleError> {
    featurize_with(trace, config, false)
}

/// As [`featurize`], with each window's gravity-blind features as well ([`WindowRecord::gravity_blind`]),
/// extracted from the same window and slow view by a second pair of extractors
/// ([`FeatureExtractor::gravity_blind`]).
pub fn featurize_for_training(trace: &Trace, config: &PipelineConfig) -> Result<Vec<WindowRecord>, TraceSampleError> {
    featurize_with(trace, config, true)
}

/// The gravity-blind extractors of [`featurize_for_training`]: the window's and its slow view's, with the slow view's
/// buffer.
struct BlindExtraction {
    features: FeatureExtractor,
    slow_features: FeatureExtractor,
    slow: Box<WindowView>,
}

fn featurize_with(trace: &Trace, config: &PipelineConfig, blind: bool) -> Result<Vec<WindowRecord>, TraceSampleError> {
    let mut front = FrontEnd::new(config.max_gap_ns);
    let mut blind = blind.then(|| BlindExtraction {
        features: FeatureExtractor::gravity_blind(),
        slow_features: FeatureExtractor::gravity_blind(),
        slow: Box::default(),
    });
    // One window per 2.5-s hop at most, and never more windows than samples (a span of centuries with two samples
    // must not reserve memory for the span).
    let cap = ((trace.duration_s() / 2.5) as usize).saturating_add(1).min(trace.samples.len());
    let mut out = Vec::with_capacity(cap);
    let mut max_gap = 0i64;
    // As in a live session: one check along the whole stream, across gaps (a gap does not change the source).
    let mut refusal_check = crate::pipeline::RefusalCheck::new();
    let mut training_check = crate::pipeline::RefusalCheck::with_rule(crate::pipeline::RefusalRule::Training);
    for (index, s) in trace.samples.iter().enumerate() {
        let outcome = front
            .push(s, |view, fv, slow_fv| {
                let gravity_blind = blind.as_mut().map(|b| {
                    let mut pair = Box::new([[0.0; N_FEATURES]; 2]);
                    b.features.extract(view, &mut pair[0]);
                    slow_view(view, &mut b.slow);
                    b.slow_features.extract(&b.slow, &mut pair[1]);
                    pair
                });
                out.push(WindowRecord {
                    start_ns: view.start_ns,
                    end_ns: view.end_ns,
                    input_rate_hz: view.input_rate_hz,
                    classifiable: refusal_check.check(view, fv).is_none(),
                    learnable: training_check.check(view, fv).is_none(),
                    holds_gravity: view.holds_gravity(),
                    max_gap_before_ns: max_gap,
                    features: *fv,
                    slow_features: *slow_fv,
                    gravity_blind,
                    truth: trace.majority_label(view.start_ns, view.end_ns),
                });
                max_gap = 0;
            })
            .map_err(|error| TraceSampleError { trace: trace.meta.name(), index, error })?;
        if outcome.continuity == Continuity::Restarted {
            // The front end's own extractors forget their context here; so do these.
            if let Some(b) = blind.as_mut() {
                b.features.wipe();
                b.slow_features.wipe();
            }
        }
        if outcome.continuity == Continuity::Restarted || outcome.gap_ns > 0 {
            max_gap = max_gap.max(outcome.gap_ns);
        }
    }
    Ok(out)
}

/// One per-hop decision on a trace, with the truth when the trace is labelled.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DecisionRecord {
    /// Window start, seconds from the trace's first sample.
    pub start_s: f64,
    /// Window end, seconds from the trace's first sample.
    pub end_s: f64,
    /// Reported activity.
    pub activity: Activity,
    /// Its confidence.
    pub confidence: f32,
    /// Majority label of the window, if labelled.
    pub truth: Option<Label>,
}

/// Classifies a trace with a full pipeline (exactly as a session would) and returns the per-hop decisions.
pub fn classify(
    trace: &Trace,
    model: Arc<Model>,
    config: &PipelineConfig,
) -> Result<Vec<DecisionRecord>, TraceSampleError> {
    classify_with_counts(trace, model, config).map(|c| c.decisions)
}

/// What [`classify_with_counts`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The per-hop decisions.
    pub decisions: Vec<DecisionRecord>,
    /// Windows classified ([`Pipeline::windows_classified`]).
    pub windows: u64,
    /// Of those, the windows whose input held no gravity ([`Pipeline::windows_without_gravity`]).
    pub windows_without_gravity: u64,
    /// Of those, the windows refused unjudged ([`Pipeline::windows_refused`]).
    pub windows_refused: crate::pipeline::RefusedWindows,
}

/// [`classify`], with the pipeline's window counts (for a warning when the input holds no gravity or was refused).
pub fn classify_with_counts(
    trace: &Trace,
    model: Arc<Model>,
    config: &PipelineConfig,
) -> Result<Classified, TraceSampleError> {
    let mut p = Pipeline::with_model(model, config.clone());
    let t0 = trace.samples.first().map_or(0, |s| s.t_ns);
    let mut out = Vec::new();
    for (index, s) in trace.samples.iter().enumerate() {
        p.push(s).map_err(|error| TraceSampleError { trace: trace.meta.name(), index, error })?;
        while let Some(ev) = p.next_event() {
            if ev.kind == EventKind::Update {
                out.push(DecisionRecord {
                    start_s: seconds_between(t0, ev.start_ns),
                    end_s: seconds_between(t0, ev.end_ns),
                    activity: ev.activity,
                    confidence: ev.confidence,
                    truth: trace.majority_label(ev.start_ns, ev.end_ns).map(|(l, _)| l),
                });
            }
        }
    }
    Ok(Classified {
        decisions: out,
        windows: p.windows_classified(),
        windows_without_gravity: p.windows_without_gravity(),
        windows_refused: p.windows_refused(),
    })
}

/// Replays precomputed windows through a model and smoother; gives the same decisions as [`classify`] on the same
/// trace (tested), at a fraction of the cost, for cross-validation.
pub fn replay(windows: &[WindowRecord], t0_ns: i64, model: &Model, config: &PipelineConfig) -> Vec<DecisionRecord> {
    replay_with_transitions(windows, t0_ns, model, config).decisions
}

/// A committed transition: the time of the ENTER event (seconds from the trace start) and the activity entered.
pub type EnterRecord = (f64, Activity);

/// What the smoother received for one window of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowEvidence {
    /// The classifier's probabilities of still, walking, running, transit and other, before smoothing (`None`: the
    /// window could not be classified, e.g. input too sparse).
    pub probs: Option<[f32; N_CLASSES]>,
    /// The smoother was reset before this window (a gap in the input longer than the pipeline allows).
    pub smoother_reset: bool,
}

/// A replay of one trace's windows: the decisions, every ENTER event, and what the smoother was given for each
/// window (so that smoother settings can be replayed elsewhere).
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// One decision per window.
    pub decisions: Vec<DecisionRecord>,
    /// Every ENTER event.
    pub enters: Vec<EnterRecord>,
    /// One entry per window, in the order of `decisions`.
    pub evidence: Vec<WindowEvidence>,
}

/// [`replay`], also returning every ENTER event and the smoother's evidence.
pub fn replay_with_transitions(windows: &[WindowRecord], t0_ns: i64, model: &Model, config: &PipelineConfig) -> Replay {
    let mut sm = Smoother::new(config.smoother.clone(), model.file().class_priors);
    let mut q = crate::event::EventQueue::with_capacity(8);
    let mut out = Replay {
        decisions: Vec::with_capacity(windows.len()),
        enters: Vec::new(),
        evidence: Vec::with_capacity(windows.len()),
    };
    for w in windows {
        let smoother_reset = w.max_gap_before_ns > config.reset_smoother_gap_ns;
        if smoother_reset {
            sm.reset();
        }
        let probs: Option<[f32; N_CLASSES]> = if w.classifiable {
            model.predict(&w.features, &w.slow_features, w.input_rate_hz, w.holds_gravity)
        } else {
            None
        };
        let d = sm.step(probs.as_ref(), w.start_ns, w.end_ns, &mut q);
        while let Some(ev) = q.pop() {
            if ev.kind == EventKind::Enter {
                out.enters.push((seconds_between(t0_ns, ev.end_ns), ev.activity));
            }
        }
        out.decisions.push(DecisionRecord {
            start_s: seconds_between(t0_ns, w.start_ns),
            end_s: seconds_between(t0_ns, w.end_ns),
            activity: d.activity,
            confidence: d.confidence,
            truth: w.truth.map(|(l, _)| l),
        });
        out.evidence.push(WindowEvidence { probs, smoother_reset });
    }
    out
}

/// How quickly and how cleanly committed transitions follow real changes of activity.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TransitionStats {
    /// Delay from each detected true change (window centre of the first window of the new activity) to the ENTER
    /// of that activity, seconds.
    pub delays_s: Vec<f64>,
    /// True changes with no ENTER of the new activity before the next change.
    pub missed: usize,
    /// ENTER events of an activity other than the truth at that time.
    pub spurious: usize,
    /// Hours of labelled decisions.
    pub hours: f64,
}

impl TransitionStats {
    /// Adds one trace's decisions and ENTER events.
    pub fn add(&mut self, decisions: &[DecisionRecord], enters: &[EnterRecord]) {
        let truth_at = |t: f64| {
            let i = decisions.partition_point(|d| d.end_s < t);
            decisions.get(i).and_then(|d| d.truth).and_then(Label::activity)
        };
        self.hours +=
            decisions.iter().filter(|d| d.truth.and_then(Label::activity).is_some()).count() as f64 * 2.5 / 3600.0;
        // True changes between consecutive activity-labelled windows.
        let mut changes: Vec<(f64, Activity)> = Vec::new();
        let mut last: Option<Activity> = None;
        for d in decisions {
            if let Some(a) = d.truth.and_then(Label::activity) {
                if last.is_some_and(|l| l != a) {
                    changes.push(((d.start_s + d.end_s) / 2.0, a));
                }
                last = Some(a);
            }
        }
        for (k, &(t, a)) in changes.iter().enumerate() {
            let until = changes.get(k + 1).map_or(f64::INFINITY, |c| c.0);
            match enters.iter().find(|&&(te, ae)| ae == a && te >= t - 5.0 && te < until) {
                Some(&(te, _)) => self.delays_s.push((te - t).max(0.0)),
                None => self.missed += 1,
            }
        }
        for &(te, ae) in enters {
            if ae != Activity::Unknown && truth_at(te).is_some_and(|tr| tr != ae) {
                self.spurious += 1;
            }
        }
    }

    /// The `q` quantile of the delays (0..=1), seconds.
    pub fn delay_quantile(&self, q: f64) -> Option<f64> {
        let mut d = self.delays_s.clone();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        let i = ((d.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        Some(d[i])
    }

    /// Spurious transitions per hour of labelled data.
    pub fn spurious_per_hour(&self) -> f64 {
        if self.hours > 0.0 {
            self.spurious as f64 / self.hours
        } else {
            0.0
        }
    }

    /// One line of text.
    pub fn summary(&self) -> String {
        format!(
            "transitions: {} detected, {} missed; ENTER delay median {:.1} s, p90 {:.1} s; {} spurious ({:.2} per hour over {:.1} h)",
            self.delays_s.len(),
            self.missed,
            self.delay_quantile(0.5).unwrap_or(f64::NAN),
            self.delay_quantile(0.9).unwrap_or(f64::NAN),
            self.spurious,
            self.spurious_per_hour(),
            self.hours
        )
    }
}

/// A stretch of equal decisions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    /// Start, seconds from the trace's first sample.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Activity.
    pub activity: Activity,
    /// Mean confidence of its decisions.
    pub mean_confidence: f32,
}

/// Merges consecutive decisions of the same activity into segments. Each decision owns the last hop of its
/// window (the part no earlier decision covered).
pub fn timeline(decisions: &[DecisionRecord]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut n = 0usize;
    for (i, d) in decisions.iter().enumerate() {
        let start = if i == 0 { d.start_s } else { decisions[i - 1].end_s.max(d.start_s) };
        match out.last_mut() {
            Some(seg) if seg.activity == d.activity && (start - seg.end_s).abs() < 1e-6 => {
                seg.mean_confidence = (seg.mean_confidence * n as f32 + d.confidence) / (n + 1) as f32;
                seg.end_s = d.end_s;
                n += 1;
            }
            _ => {
                out.push(Segment {
                    start_s: start,
                    end_s: d.end_s,
                    activity: d.activity,
                    mean_confidence: d.confidence,
                });
                n = 1;
            }
        }
    }
    out
}

/// Highest rate [`decimate`] accepts, Hz (the fastest input the pipeline is specified for).
pub const MAX_DECIMATE_HZ: f64 = 1000.0;

/// A decimation rate that is not a finite rate above 0 and at most [`MAX_DECIMATE_HZ`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("decimation rate {hz} Hz: expected a finite rate above 0 Hz and at most {MAX_DECIMATE_HZ} Hz")]
pub struct DecimateRateError {
    /// The rate refused.
    pub hz: f64,
}

/// Checks a decimation rate (see [`DecimateRateError`]).
pub fn check_decimate_hz(hz: f64) -> Result<f64, DecimateRateError> {
    if hz.is_finite() && hz > 0.0 && hz <= MAX_DECIMATE_HZ {
        Ok(hz)
    } else {
        Err(DecimateRateError { hz })
    }
}

/// Keeps the first sample at or after each tick of a `hz` clock (simulates a slower sensor; input slower than
/// `hz` is kept whole). `hz` must pass [`check_decimate_hz`]; clock ticks saturate at the end of the `i64` range
/// instead of overflowing.
pub fn decimate(trace: &Trace, hz: f64) -> Result<Trace, DecimateRateError> {
    let hz = check_decimate_hz(hz)?;
    // hz in (0, 1000]: the period is at least 1 ms, and finite (at most about 1.8e19 ns before the cast saturates).
    let period = ((1e9 / hz) as i64).max(1);
    let mut out = Trace { meta: trace.meta.clone(), samples: Vec::new(), labels: Vec::new() };
    let mut next_tick: Option<i64> = None;
    for (i, s) in trace.samples.iter().enumerate() {
        if next_tick.is_none_or(|t| s.t_ns >= t) {
            out.samples.push(*s);
            if trace.is_labelled() {
                if let Some(l) = trace.labels.get(i) {
                    out.labels.push(*l);
                }
            }
            let mut t = next_tick.unwrap_or(s.t_ns).saturating_add(period);
            if t <= s.t_ns {
                // Input slower than the clock, or a gap: restart the clock at this sample.
                t = s.t_ns.saturating_add(period);
            }
            if t == s.t_ns {
                // The clock reached the end of the i64 range: no later sample can exist.
                break;
            }
            next_tick = Some(t);
        }
    }
    Ok(out)
}

/// Applies one random but fixed rotation (from `seed` and the trace name) to every sample of a trace.
pub fn rotate(trace: &Trace, seed: u64) -> Trace {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for b in trace.meta.name().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    let mut next = || {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        (h >> 11) as f64 / (1u64 << 53) as f64
    };
    let (a, b, c) = (next() * std::f64::consts::TAU, next() * std::f64::consts::TAU, next() * std::f64::consts::TAU);
    let r: Rotation3<f32> = Rotation3::from_euler_angles(a as f32, b as f32, c as f32);
    let mut out = trace.clone();
    for s in out.samples.iter_mut() {
        s.accel = clamp_components(r * s.accel, MAX_ACCEL_MS2);
        s.gyro = s.gyro.map(|g| clamp_components(r * g, MAX_GYRO_RADS));
    }
    out
}

/// Each component limited to `max` in magnitude. A valid sample near the range limit on two or three axes can leave
/// it once rotated (or once a low-pass is subtracted), and a robustness transform must not turn a valid trace into
/// one that validation refuses; a sensor saturates the same way.
fn clamp_components(v: Vector3<f32>, max: f32) -> Vector3<f32> {
    v.map(|x| x.clamp(-max, max))
}

/// Removes gravity the way some sources do before we see them (a 1-s low-pass subtracted), for training and for
/// testing that decisions do not depend on whether a source kept gravity.
pub fn remove_gravity(trace: &Trace) -> Trace {
    let mut out = trace.clone();
    let mut lp: Option<Vector3<f32>> = None;
    let mut last_t: Option<i64> = None;
    for s in out.samples.iter_mut() {
        // Formed in i128: any two i64 times, however far apart, give a finite interval.
        let dt = last_t.map_or(0.0, |t| (i128::from(s.t_ns) - i128::from(t)) as f32 * 1e-9);
        let alpha = dt / (1.0 + dt);
        let g = match lp {
            Some(g) if dt < 2.0 => g + (s.accel - g) * alpha,
            _ => s.accel,
        };
        lp = Some(g);
        last_t = Some(s.t_ns);
        s.accel = clamp_components(s.accel - g, MAX_ACCEL_MS2);
    }
    out.meta.gravity_removed = true;
    out
}

/// Resamples a trace to irregular, event-driven timing at about `hz` (exponential gaps with a deterministic
/// generator), keeping the samples closest to the drawn times. Used to train the low-rate classifier.
pub fn sparsify(trace: &Trace, hz: f64, seed: u64) -> Trace {
    let mut h = seed | 1;
    let mut next = || {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut out = Trace { meta: trace.meta.clone(), samples: Vec::new(), labels: Vec::new() };
    let Some(first) = trace.samples.first() else { return out };
    let mut t_next = first.t_ns;
    let mut i = 0usize;
    while i < trace.samples.len() {
        let s: &Sample = &trace.samples[i];
        if s.t_ns >= t_next {
            out.samples.push(*s);
            if trace.is_labelled() {
                out.labels.push(trace.labels[i]);
            }
            // Gaps: mostly around 1/hz, occasionally longer (event-driven logs), capped below the gap limit.
            let gap = (-next().ln() / hz).clamp(0.3 / hz, 1.8);
            t_next = s.t_ns + (gap * 1e9) as i64;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceMeta;

    fn trace() -> Trace {
        let mut samples = Vec::new();
        let mut labels = Vec::new();
        for i in 0..(50 * 120) {
            let t = i as f64 / 50.0;
            let walking = (30.0..80.0).contains(&t);
            let z = if walking { 9.81 + 3.0 * (2.0 * std::f64::consts::PI * 1.8 * t).sin() } else { 9.81 };
            samples.push(Sample::accel((t * 1e9) as i64 + 5, 0.3, 0.2, z as f32));
            labels.push(Some(if walking { Label::Walking } else { Label::Still }));
        }
        let meta = TraceMeta {
            dataset: "test".into(),
            subject: "s".into(),
            session: "1".into(),
            source: "mem".into(),
            gravity_removed: false,
        };
        Trace { meta, samples, labels }
    }

    #[test]
    fn replay_of_windows_equals_streaming_classification() {
        let model = Arc::new(crate::model::tests::tiny_model());
        let cfg = PipelineConfig::default();
        let mut t = trace();
        // Add a 90-s gap so the smoother reset path is exercised.
        for s in t.samples.iter_mut().skip(4000) {
            s.t_ns += 90_000_000_000;
        }
        let streamed = classify(&t, model.clone(), &cfg).unwrap();
        let windows = featurize(&t, &cfg).unwrap();
        let replayed = replay(&windows, t.samples[0].t_ns, &model, &cfg);
        assert_eq!(streamed.len(), windows.len());
        assert_eq!(streamed, replayed);
        let enters = replay_with_transitions(&windows, t.samples[0].t_ns, &model, &cfg).enters;
        let mut stats = TransitionStats::default();
        stats.add(&replayed, &enters);
        assert_eq!(stats.delays_s.len() + stats.missed, 2, "still->walking->still: {stats:?}");
        assert!(stats.delays_s.iter().all(|d| *d < 20.0), "{stats:?}");
        let tl = timeline(&streamed);
        assert!(tl.iter().any(|s| s.activity == Activity::Walking));
        assert!(tl.windows(2).all(|p| p[0].activity != p[1].activity || p[1].start_s > p[0].end_s));
    }

    #[test]
    fn windows_without_gravity_are_judged_by_the_gravity_free_pair_live_and_on_replay() {
        // The tiny model, with a gravity-free pair that always says running.
        let mut file = crate::model::tests::tiny_model().file().clone();
        let running = crate::model::tests::leaf([0, 0, 255, 0, 0]);
        file.free_dense = running.clone();
        file.free_sparse = running;
        let model = Arc::new(Model::new(file).unwrap());
        let cfg = PipelineConfig::default();
        let natural = trace();
        let linear = remove_gravity(&natural);
        for (t, gravity) in [(&natural, true), (&linear, false)] {
            let streamed = classify(t, model.clone(), &cfg).unwrap();
            let windows = featurize(t, &cfg).unwrap();
            assert!(windows.iter().skip(2).all(|w| w.holds_gravity == gravity));
            assert_eq!(replay(&windows, t.samples[0].t_ns, &model, &cfg), streamed);
            let running = streamed.iter().filter(|d| d.activity == Activity::Running).count();
            if gravity {
                assert_eq!(running, 0);
            } else {
                assert!(running > streamed.len() / 2, "{running} of {}", streamed.len());
            }
        }
        // Training sees every window blind to gravity; where the input holds none, that is what it already was
        // (across a gap too, where both forget their context).
        let mut gapped = linear.clone();
        for s in gapped.samples.iter_mut().skip(4000) {
            s.t_ns += 90_000_000_000;
        }
        let windows = featurize_for_training(&gapped, &cfg).unwrap();
        assert!(windows.iter().filter(|w| !w.holds_gravity).count() > 10);
        for w in windows.iter().filter(|w| !w.holds_gravity) {
            let blind = w.gravity_blind.as_ref().unwrap();
            assert_eq!(blind[0], w.features);
            assert_eq!(blind[1], w.slow_features);
        }
        assert!(featurize(&linear, &cfg).unwrap().iter().all(|w| w.gravity_blind.is_none()));
        let natural_windows = featurize_for_training(&natural, &cfg).unwrap();
        assert!(natural_windows.iter().any(|w| w.gravity_blind.as_ref().is_some_and(|b| b[0] != w.features)));
    }

    #[test]
    fn decimate_rotate_and_sparsify_keep_labels_aligned() {
        let t = trace();
        let d = decimate(&t, 20.0).unwrap();
        assert!((d.mean_rate_hz() - 20.0).abs() < 0.5, "{}", d.mean_rate_hz());
        assert_eq!(d.samples.len(), d.labels.len());
        let r = rotate(&t, 7);
        assert!((r.samples[10].accel.norm() - t.samples[10].accel.norm()).abs() < 1e-4);
        assert_ne!(r.samples[10].accel, t.samples[10].accel);
        let s = sparsify(&t, 3.0, 1);
        assert!((1.5..5.0).contains(&s.mean_rate_hz()), "{}", s.mean_rate_hz());
        assert_eq!(s.samples.len(), s.labels.len());
        let g = remove_gravity(&t);
        assert!(g.samples.last().unwrap().accel.norm() < 0.5);
    }

    #[test]
    fn decimate_refuses_rates_that_are_not_a_rate_and_saturates_its_clock() {
        let t = trace();
        for hz in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1000.001, 1e12] {
            assert!(matches!(decimate(&t, hz), Err(e) if e.hz.to_bits() == hz.to_bits()), "{hz}");
        }
        // The slowest accepted rates keep only the first sample instead of overflowing the clock.
        for hz in [1e-300, f64::MIN_POSITIVE] {
            let d = decimate(&t, hz).unwrap();
            assert_eq!(d.samples.len(), 1, "{hz}");
            assert_eq!(d.labels.len(), 1);
        }
        // Samples at the end of the clock: ticks saturate, no panic, the first is kept.
        let mut end = t.clone();
        end.samples.truncate(3);
        end.labels.truncate(3);
        for (k, s) in end.samples.iter_mut().enumerate() {
            s.t_ns = i64::MAX - 2 + k as i64;
        }
        // Ticks saturate at i64::MAX: the first sample, then the one at the end of the clock.
        for hz in [1.0, 1000.0] {
            let d = decimate(&end, hz).unwrap();
            assert_eq!(d.samples.iter().map(|s| s.t_ns).collect::<Vec<_>>(), [i64::MAX - 2, i64::MAX], "{hz}");
        }
        assert_eq!(decimate(&t, 1000.0).unwrap().samples.len(), t.samples.len(), "input slower than the clock");
    }

    #[test]
    fn helpers_do_not_overflow_on_times_far_apart() {
        let mut t = trace();
        t.samples.truncate(2);
        t.labels.truncate(2);
        t.samples[0].t_ns = i64::MIN;
        t.samples[1].t_ns = i64::MAX;
        assert!((t.duration_s() - 1.8446744073709552e10).abs() < 1.0, "{}", t.duration_s());
        let g = remove_gravity(&t);
        assert!(g.samples.iter().all(|s| s.accel.iter().all(|v| v.is_finite())));
        // Two samples 9e9 s apart: no preallocation from the span.
        t.samples[0].t_ns = 0;
        t.samples[1].t_ns = 9_000_000_000_000_000_000;
        assert!(featurize(&t, &PipelineConfig::default()).unwrap().is_empty());
    }

    #[test]
    fn robustness_transforms_keep_valid_samples_valid() {
        // Valid samples at the edge of the range on two axes, alternating sign at 50 Hz: rotated, a component can
        // reach sqrt(2) times the limit; with a low-pass subtracted, more than the limit.
        let edge = MAX_ACCEL_MS2 * 0.95;
        let samples: Vec<Sample> = (0..200)
            .map(|i| {
                let a = if i % 2 == 0 { edge } else { -edge };
                Sample::with_gyro(i * 20_000_000, [-a, a, 0.0], [MAX_GYRO_RADS * 0.95, -MAX_GYRO_RADS * 0.95, 0.0])
            })
            .collect();
        assert!(samples.iter().all(|s| s.check_values().is_ok()));
        let t = Trace { meta: trace().meta, labels: vec![None; samples.len()], samples };
        for seed in 0..20 {
            assert!(rotate(&t, seed).samples.iter().all(|s| s.check_values().is_ok()), "seed {seed}");
        }
        assert!(remove_gravity(&t).samples.iter().all(|s| s.check_values().is_ok()));
    }
}
