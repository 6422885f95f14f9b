//! The signal pipeline behind a session: validate -> resample -> fusion -> window -> features -> model -> smoothing.
//!
//! [`FrontEnd`] turns samples into feature vectors (shared by live sessions, offline evaluation and training, so
//! all three compute exactly the same thing). [`Pipeline`] adds the model and the smoother. Neither is a way to
//! classify live data without consent: the public live entry point is [`crate::session::Session`], which only the
//! consent gate creates; `Pipeline` is public for the offline tools (feature `offline`) and, without that feature,
//! is only reachable inside the crate.
//!
//! Everything is allocated in `new`; `push` never allocates, locks or logs.

use std::sync::Arc;

use crate::event::{ActivityEvent, EventQueue};
use crate::features::{FeatureExtractor, FeatureVector, N_FEATURES};
use crate::fusion::Fusion;
use crate::model::{Model, ModelError, N_CLASSES};
use crate::resample::{Continuity, Resampler};
use crate::sample::{Sample, SampleError, StreamValidator};
use crate::smooth::{Smoother, SmootherConfig};
use crate::window::{slow_view, WindowRing, WindowView};

/// Tunables of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Capacity of the event queue.
    pub event_capacity: usize,
    /// A gap between samples longer than this restarts the stream (no data is invented across it), ns.
    pub max_gap_ns: i64,
    /// A gap longer than this also resets the smoother (the activity before it says nothing about after), ns.
    pub reset_smoother_gap_ns: i64,
    /// Smoother settings.
    pub smoother: SmootherConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            event_capacity: 64,
            max_gap_ns: 2_000_000_000,
            reset_smoother_gap_ns: 60_000_000_000,
            smoother: SmootherConfig::default(),
        }
    }
}

/// Whether a window carries evidence the model may judge. Two kinds of input are refused (the window gets no
/// decision, so the session reports `Unknown`) rather than guessed at:
/// - a dead sensor: no variation at all (all-zero or frozen values);
/// - acceleration in g instead of m/s^2: a slow component of about 1 where gravity should read 9.8.
pub fn classifiable(view: &WindowView, fv: &FeatureVector) -> bool {
    let dead = fv[crate::features::LOG_ENERGY] <= (1e-4f32 + 1e-9).log10();
    let g_units = view.gravity_fraction < 0.5 && (0.75..=1.3).contains(&view.gravity_norm);
    !(dead || g_units)
}

/// Samples in, feature vectors out.
#[derive(Debug)]
pub struct FrontEnd {
    validator: StreamValidator,
    resampler: Resampler,
    fusion: Fusion,
    ring: Box<WindowRing>,
    view: Box<WindowView>,
    features: FeatureExtractor,
    fv: FeatureVector,
    slow: Box<WindowView>,
    slow_features: FeatureExtractor,
    slow_fv: FeatureVector,
    last_t_ns: Option<i64>,
}

/// What one push did besides producing windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOutcome {
    /// Whether the sample restarted the stream (first sample, or after a gap).
    pub continuity: Continuity,
    /// Length of the gap before this sample, ns (0 for the first sample).
    pub gap_ns: i64,
}

impl FrontEnd {
    /// A front end with every buffer allocated.
    pub fn new(max_gap_ns: i64) -> Self {
        FrontEnd {
            validator: StreamValidator::new(),
            resampler: Resampler::new(max_gap_ns),
            fusion: Fusion::new(),
            ring: Box::default(),
            view: Box::default(),
            features: FeatureExtractor::new(),
            fv: [0.0; N_FEATURES],
            slow: Box::default(),
            slow_features: FeatureExtractor::new(),
            slow_fv: [0.0; N_FEATURES],
            last_t_ns: None,
        }
    }

    /// Validates and feeds one sample; calls `on_window` with the window, its features and its slow-view features
    /// for every window it completes.
    pub fn push(
        &mut self,
        s: &Sample,
        mut on_window: impl FnMut(&WindowView, &FeatureVector, &FeatureVector),
    ) -> Result<PushOutcome, SampleError> {
        self.validator.check(s)?;
        let gap_ns = self.last_t_ns.map_or(0, |t| s.t_ns.saturating_sub(t));
        self.last_t_ns = Some(s.t_ns);
        let fusion = &mut self.fusion;
        let ring = &mut self.ring;
        let view = &mut self.view;
        let features = &mut self.features;
        let fv = &mut self.fv;
        let slow = &mut self.slow;
        let slow_features = &mut self.slow_features;
        let slow_fv = &mut self.slow_fv;
        let continuity = self.resampler.push(s, |g| {
            let est = fusion.update(g);
            if ring.push(g.t_ns, &g.accel, &est, g.inputs) {
                ring.copy_window(view);
                features.extract(view, fv);
                slow_view(view, slow);
                slow_features.extract(slow, slow_fv);
                on_window(view, fv, slow_fv);
            }
        });
        if continuity == Continuity::Restarted {
            // The resampler already restarted at `s`; everything downstream starts over too.
            self.fusion.wipe();
            self.ring.wipe();
            self.features.wipe();
            self.slow_features.wipe();
        }
        Ok(PushOutcome { continuity, gap_ns })
    }

    /// Zeroizes every buffer; returns bytes wiped.
    pub fn wipe(&mut self) -> usize {
        self.validator.reset();
        self.last_t_ns = None;
        let mut n = self.resampler.wipe()
            + self.fusion.wipe()
            + self.ring.wipe()
            + self.features.wipe()
            + self.slow_features.wipe();
        zeroize::Zeroize::zeroize(&mut *self.view);
        zeroize::Zeroize::zeroize(&mut *self.slow);
        zeroize::Zeroize::zeroize(&mut self.fv);
        zeroize::Zeroize::zeroize(&mut self.slow_fv);
        n += 2 * (std::mem::size_of::<WindowView>() + std::mem::size_of::<FeatureVector>());
        n
    }

    /// True when no buffer holds a non-zero signal byte.
    pub fn is_zero(&self) -> bool {
        self.resampler.is_zero()
            && self.fusion.is_zero()
            && self.ring.is_zero()
            && self.features.is_zero()
            && self.slow_features.is_zero()
            && [&*self.view, &*self.slow]
                .iter()
                .all(|v| v.accel.iter().flatten().all(|&x| x == 0.0) && v.up.iter().flatten().all(|&x| x == 0.0))
            && self.fv.iter().chain(&self.slow_fv).all(|&x| x == 0.0)
            && self.last_t_ns.is_none()
    }

    /// Bytes held in the front end's buffers (all allocated up front).
    pub fn buffer_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of::<WindowRing>()
            + 2 * std::mem::size_of::<WindowView>()
            + self.features.buffer_bytes()
            + self.slow_features.buffer_bytes()
    }
}

/// The streaming classifier: front end, model and smoother.
#[derive(Debug)]
pub struct Pipeline {
    front: FrontEnd,
    model: Arc<Model>,
    smoother: Smoother,
    events: EventQueue,
    reset_smoother_gap_ns: i64,
    windows_classified: u64,
    samples_accepted: u64,
}

impl Pipeline {
    /// A pipeline around the embedded default model.
    pub fn new(config: PipelineConfig) -> Result<Self, ModelError> {
        Ok(Self::with_model(Model::embedded()?, config))
    }

    /// A pipeline around a given model.
    pub fn with_model(model: Arc<Model>, config: PipelineConfig) -> Self {
        let smoother = Smoother::new(config.smoother.clone(), model.file().class_priors);
        Pipeline {
            front: FrontEnd::new(config.max_gap_ns),
            model,
            smoother,
            events: EventQueue::with_capacity(config.event_capacity),
            reset_smoother_gap_ns: config.reset_smoother_gap_ns,
            windows_classified: 0,
            samples_accepted: 0,
        }
    }

    /// Feeds one sample; decisions and transitions are appended to the event queue.
    pub fn push(&mut self, s: &Sample) -> Result<(), SampleError> {
        let model = &self.model;
        let smoother = &mut self.smoother;
        let events = &mut self.events;
        let windows = &mut self.windows_classified;
        let outcome = self.front.push(s, |view, fv, slow_fv| {
            let probs: Option<[f32; N_CLASSES]> =
                if classifiable(view, fv) { model.predict(fv, slow_fv, view.input_rate_hz) } else { None };
            smoother.step(probs.as_ref(), view.start_ns, view.end_ns, events);
            *windows += 1;
        })?;
        if outcome.gap_ns > self.reset_smoother_gap_ns {
            self.smoother.reset();
        }
        self.samples_accepted += 1;
        Ok(())
    }

    /// Takes the oldest pending event.
    pub fn next_event(&mut self) -> Option<ActivityEvent> {
        self.events.pop()
    }

    /// Events emitted since creation (the Update/Enter/Exit count; a session reports the difference per push).
    pub fn events_emitted(&self) -> u64 {
        self.events.pushed()
    }

    /// Number of windows classified since creation.
    pub fn windows_classified(&self) -> u64 {
        self.windows_classified
    }

    /// Number of samples accepted since creation.
    pub fn samples_accepted(&self) -> u64 {
        self.samples_accepted
    }

    /// Zeroizes every buffer that holds raw or derived signal data and resets the stream; returns bytes wiped.
    pub fn wipe(&mut self) -> usize {
        let n = self.front.wipe();
        self.smoother.reset();
        self.events.clear();
        n
    }

    /// True when no buffer holds a non-zero byte of signal data (used by tests after a purge).
    pub fn raw_buffers_are_zero(&self) -> bool {
        self.front.is_zero() && self.smoother.is_reset() && self.events.is_empty()
    }

    /// Bytes of buffers this pipeline allocated (the model is shared and not counted).
    pub fn buffer_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.front.buffer_bytes()
            + self.events.capacity() * std::mem::size_of::<ActivityEvent>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Arc<Model> {
        Arc::new(crate::model::tests::tiny_model())
    }

    fn walk(t0: i64, n: usize, rate_hz: f64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let t = i as f64 / rate_hz;
                let a = 9.81 + 3.0 * (2.0 * std::f64::consts::PI * 1.8 * t).sin();
                Sample::accel(t0 + (t * 1e9) as i64, 0.5, 1.0, a as f32)
            })
            .collect()
    }

    #[test]
    fn streams_windows_every_hop_and_decides() {
        let mut p = Pipeline::with_model(model(), PipelineConfig::default());
        for s in walk(0, 50 * 60, 50.0) {
            p.push(&s).unwrap();
        }
        // 60 s at 20 Hz = 1200 grid points: first window at 100, then every 50 -> 23 windows.
        assert_eq!(p.windows_classified(), 23);
        let evs: Vec<_> = std::iter::from_fn(|| p.next_event()).collect();
        assert!(evs.iter().any(|e| e.kind == crate::EventKind::Enter && e.activity == crate::Activity::Walking));
        assert!(!p.raw_buffers_are_zero());
        assert!(p.wipe() > 0);
        assert!(p.raw_buffers_are_zero());
    }

    #[test]
    fn invalid_samples_are_refused_without_state_change() {
        let mut p = Pipeline::with_model(model(), PipelineConfig::default());
        p.push(&Sample::accel(1000, 0.0, 0.0, 9.8)).unwrap();
        assert_eq!(p.push(&Sample::accel(999, 0.0, 0.0, 9.8)), Err(SampleError::TimeBackwards));
        assert!(p.push(&Sample::accel(2000, f32::NAN, 0.0, 9.8)).is_err());
        p.push(&Sample::accel(2000, 0.0, 0.0, 9.8)).unwrap();
        assert_eq!(p.samples_accepted(), 2);
    }

    #[test]
    fn too_sparse_input_gives_unknown() {
        let mut p = Pipeline::with_model(model(), PipelineConfig::default());
        // 0.8 Hz input, below the model's 1 Hz floor.
        for s in walk(0, 100, 0.8) {
            p.push(&s).unwrap();
        }
        let evs: Vec<_> = std::iter::from_fn(|| p.next_event()).collect();
        assert!(!evs.is_empty());
        assert!(evs.iter().all(|e| e.activity == crate::Activity::Unknown), "{evs:?}");
    }
}
