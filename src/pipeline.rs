//! The signal pipeline behind a session: validate -> resample -> fusion -> window -> features -> model -> smoothing.
//!
//! [`FrontEnd`] turns samples into feature vectors (shared by live sessions, offline evaluation and training, so
//! all three compute exactly the same thing). [`Pipeline`] adds the model and the smoother. Neither is a way to
//! classify live data without consent: the public live entry point is [`crate::session::Session`], which only the
//! consent gate creates; `Pipeline` is public for the offline tools (feature `offline`) and, without that feature,
//! is only reachable inside the crate.
//!
//! Everything is allocated in `new`; `push` never allocates, locks or logs.

use std::convert::Infallible;
use std::sync::Arc;

use crate::event::{ActivityEvent, EventQueue};
use crate::features::{FeatureExtractor, FeatureVector, N_FEATURES};
use crate::fusion::Fusion;
use crate::model::{Model, ModelError, N_CLASSES};
use crate::resample::{Continuity, GridSample, GridSink, Resampler, RunStop};
use crate::sample::{Sample, SampleError};
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

/// Why a window was refused unjudged (see [`RefusalCheck`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No variation at all: an all-zero or frozen sensor.
    DeadSensor,
    /// A slow component of about 1 where gravity should read 9.8: acceleration in g instead of m/s^2 (iOS's
    /// CoreMotion reports g; multiply by -9.80665, see `ffi/README.md`).
    AccelerationInG,
}

/// Windows refused unjudged since a pipeline (or session) was created, by reason (the pipeline's refusal check, see
/// `Session::windows_refused`). A count, not signal data: a wipe does not reset it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusedWindows {
    /// Windows refused as a dead sensor: no variation at all (all-zero or frozen values).
    pub dead_sensor: u64,
    /// Windows refused as acceleration in g: a slow component of about 1 where gravity should read 9.8 (iOS's
    /// CoreMotion reports g), in a stream that has not come near 0 as linear acceleration would.
    pub acceleration_in_g: u64,
}

impl RefusedWindows {
    /// All refused windows, whatever the reason.
    pub fn total(&self) -> u64 {
        self.dead_sensor + self.acceleration_in_g
    }

    fn count(&mut self, refusal: Refusal) {
        match refusal {
            Refusal::DeadSensor => self.dead_sensor += 1,
            Refusal::AccelerationInG => self.acceleration_in_g += 1,
        }
    }
}

/// Largest magnitude of a window's slow component (m/s^2, without gravity) that shows a source of linear
/// acceleration: a phone at rest, cruising or swaying reads near 0 once gravity is removed. Acceleration in g never
/// does (its slow component is gravity, about 1), short of free fall.
pub const LINEAR_SLOW_NORM_MAX: f32 = 0.5;

/// Largest magnitude of a window's mean acceleration (m/s^2, over its 5 s, without gravity) that shows a source of
/// linear acceleration. Someone walking or running moves back and forth, so the mean of their linear acceleration
/// over 5 s is near 0 (a median of 0.1 m/s^2 on the recordings with gravity removed) even while its slow component
/// (a 1-s low-pass) swings with every stride and stays near 1. Gravity in g keeps the mean near 1 unless the phone
/// turns over within the window (the lowest seen on the recordings in g, at a scale error of 15%: 0.26).
pub const LINEAR_MEAN_NORM_MAX: f32 = 0.25;

/// For how many windows (of 2.5-s hops: 30 s) a window that showed linear acceleration ([`LINEAR_SLOW_NORM_MAX`])
/// vouches for the windows after it: a vehicle braking or pulling away reads about 1 m/s^2 for 10-25 s, the same
/// slow magnitude as gravity in g, but no vehicle keeps it up for long; gravity in g holds it for good.
pub const LINEAR_EVIDENCE_WINDOWS: u32 = 12;

/// Decides, window by window along one stream, which windows carry no evidence the model may judge ([`Refusal`]).
/// Two kinds of input are refused (the window gets no decision, so the session reports `Unknown`, and the refusal
/// is counted: [`Pipeline::windows_refused`]) rather than guessed at:
/// - a dead sensor: no variation at all (all-zero or frozen values);
/// - acceleration in g instead of m/s^2: a window without gravity whose slow component is about 1
///   ([`crate::sample::SLOW_NORM_OF_G_UNITS`]) where gravity should read 9.8, unless the stream showed linear
///   acceleration within the last [`LINEAR_EVIDENCE_WINDOWS`] windows: a slow component near 0
///   ([`LINEAR_SLOW_NORM_MAX`]), or a mean near 0 over the window ([`LINEAR_MEAN_NORM_MAX`]). The slow
///   magnitude alone cannot tell gravity in g from a vehicle braking in linear acceleration (Android's
///   `TYPE_LINEAR_ACCELERATION`), nor from someone walking: all read about 1. What tells them apart is the stream:
///   linear acceleration returns to near 0 between a vehicle's manoeuvres, and a walker's averages near 0 over a
///   window; gravity in g does neither. (Judged per window alone, the braking and pulling-away windows of the Paris
///   Metro rides recorded without gravity, 8-10% of their windows, were refused; with the slow component alone as
///   evidence of linear acceleration, 6.6% of the windows of `../shared/data` with gravity removed were, most of
///   them walking and running, against 3.8% with the window's mean as well.)
///
/// A fresh check (or one after [`RefusalCheck::reset`]) has seen no linear acceleration, so a stream that starts
/// with a slow magnitude of about 1 is refused until it shows some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalCheck {
    /// Windows since the last one that showed linear acceleration (saturating; `u32::MAX`: none yet).
    windows_since_linear: u32,
    /// Which windows the check refuses.
    rule: RefusalRule,
}

/// Which windows a [`RefusalCheck`] refuses as acceleration in g.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalRule {
    /// What a session applies: linear acceleration shows itself by a slow component near 0
    /// ([`LINEAR_SLOW_NORM_MAX`]) or a window's mean near 0 ([`LINEAR_MEAN_NORM_MAX`]); a slow magnitude in
    /// [`crate::sample::SLOW_NORM_OF_G_UNITS`] without it is refused.
    Live,
    /// Which windows of the training recordings the model learns from (offline only): linear acceleration shows
    /// itself by a slow component near 0 alone, and a slow magnitude of 0.75-1.3 without it is not learned from
    /// (`TRAINING_SLOW_NORM_OF_G_UNITS`).
    /// The readers give every training recording in m/s^2, so the windows this leaves out are windows of linear
    /// acceleration (of the copies with gravity removed, above all) that have not shown themselves as such. Learning
    /// from the windows the live rule judges instead cost the model 0.004 and 0.008 of cross-validated macro-F1 on
    /// two training seeds, and from every window 0.000 and 0.008, with still and transit F1 under 0.90 on the second
    /// (the model card's Tried and not kept), so training keeps the selection the shipped model was trained on.
    Training,
}

/// The band of slow magnitudes [`RefusalRule::Training`] refuses: [`crate::sample::SLOW_NORM_OF_G_UNITS`] as it was
/// when the shipped model was trained, before its top moved to cover the low-pass's start-up.
const TRAINING_SLOW_NORM_OF_G_UNITS: std::ops::RangeInclusive<f32> = 0.75..=1.3;

impl RefusalRule {
    /// Whether the window shows linear acceleration, which vouches for the stream's next windows.
    fn shows_linear_acceleration(self, view: &WindowView) -> bool {
        view.gravity_norm <= LINEAR_SLOW_NORM_MAX
            || (self == RefusalRule::Live && view.mean_norm() <= LINEAR_MEAN_NORM_MAX)
    }

    /// Slow magnitudes that read as gravity in g when nothing vouches for the stream.
    fn slow_norm_of_g_units(self) -> &'static std::ops::RangeInclusive<f32> {
        match self {
            RefusalRule::Live => &crate::sample::SLOW_NORM_OF_G_UNITS,
            RefusalRule::Training => &TRAINING_SLOW_NORM_OF_G_UNITS,
        }
    }
}

impl Default for RefusalCheck {
    fn default() -> Self {
        Self::with_rule(RefusalRule::Live)
    }
}

impl RefusalCheck {
    /// A session's check ([`RefusalRule::Live`]) that has seen no window yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A check with the given rule that has seen no window yet.
    pub fn with_rule(rule: RefusalRule) -> Self {
        RefusalCheck { windows_since_linear: u32::MAX, rule }
    }

    /// Why the stream's next window carries no evidence the model may judge, or `None` when it does. Call once per
    /// window, in stream order.
    #[inline]
    pub fn check(&mut self, view: &WindowView, fv: &FeatureVector) -> Option<Refusal> {
        if fv[crate::features::LOG_ENERGY] <= (1e-4f32 + 1e-9).log10() {
            // No variation at all is no evidence about the source either.
            return Some(Refusal::DeadSensor);
        }
        if view.holds_gravity() {
            return None;
        }
        if self.rule.shows_linear_acceleration(view) {
            self.windows_since_linear = 0;
            return None;
        }
        self.windows_since_linear = self.windows_since_linear.saturating_add(1);
        let vouched = self.windows_since_linear <= LINEAR_EVIDENCE_WINDOWS;
        (self.rule.slow_norm_of_g_units().contains(&view.gravity_norm) && !vouched).then_some(Refusal::AccelerationInG)
    }

    /// Forgets the stream (a wipe: the state is derived from the signal); the rule stays.
    pub fn reset(&mut self) {
        *self = Self::with_rule(self.rule);
    }

    /// Whether the check is as new.
    pub fn is_reset(&self) -> bool {
        *self == Self::with_rule(self.rule)
    }
}

/// Samples in, feature vectors out.
#[derive(Debug)]
pub struct FrontEnd {
    /// Also the stream's clock: its last sample time is what the next sample is validated against.
    resampler: Resampler,
    back: BackEnd,
}

/// Windows in a row that must show a gyroscope contradicting the accelerometer before the gyroscope is ignored
/// ([`GyroscopeCheck`]): 10 s. Over every recording with a gyroscope in `../shared/data`, in rad/s, none gets there
/// (BasicMotions' watch shows 36 such windows, in recordings of two windows: its gravity-removed acceleration keeps
/// an offset in the watch's axes that the gyroscope turns away); with the rates in deg/s, every HAPT recording gets
/// there (after 12 s at the median, 197 s at the most), and so do 73 of sp_sw_har's 366 recordings of about 10 s.
pub const GYROSCOPE_CONTRADICTION_WINDOWS: u32 = 4;

/// What a session found about its gyroscope (`Session::gyroscope_check`; offline, `FrontEnd::gyroscope_check`).
///
/// A window whose gravity estimate does not read as gravity (the gyroscope-aided filter's state is not 6.5-13 m/s^2
/// in half of its samples) while its mean acceleration does, in a stream with a gyroscope, contradicts: the
/// accelerometer shows gravity that the gyroscope turned away, as rates in deg/s read as rad/s do (Expo's
/// `DeviceMotion.rotationRate` and several logging apps give deg/s). After four such windows in a row (10 s;
/// `GYROSCOPE_CONTRADICTION_WINDOWS`) the gyroscope is ignored for the rest of the session (gravity from the
/// accelerometer alone, as for a phone without one), so that later windows are judged as they would be without it
/// instead of as input without gravity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GyroscopeCheck {
    /// Windows of a stream with a gyroscope that showed the contradiction (before the gyroscope was ignored).
    pub contradicting_windows: u64,
    /// Whether the gyroscope is ignored from now on.
    pub ignored: bool,
}

/// The counts behind [`GyroscopeCheck`]; whether the gyroscope is ignored is the fusion's own state
/// ([`Fusion::gyroscope_ignored`]), which outlives gaps and wipes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct GyroscopeWatch {
    /// Grid points with a gyroscope reading since the last window.
    points_with_gyro: u32,
    /// Contradicting windows in a row.
    in_a_row: u32,
    /// Contradicting windows, over the session.
    contradicting_windows: u64,
}

impl GyroscopeWatch {
    /// Judges a window (called once per window, before its features).
    fn window(&mut self, view: &WindowView, fusion: &mut Fusion) {
        let with_gyro = self.points_with_gyro as usize * 2 >= crate::window::HOP_LEN;
        self.points_with_gyro = 0;
        if !with_gyro || fusion.gyroscope_ignored() {
            return;
        }
        if view.holds_gravity() || !crate::sample::SLOW_NORM_OF_GRAVITY.contains(&view.mean_norm()) {
            self.in_a_row = 0;
            return;
        }
        self.contradicting_windows += 1;
        self.in_a_row += 1;
        if self.in_a_row >= GYROSCOPE_CONTRADICTION_WINDOWS {
            fusion.ignore_gyroscope();
        }
    }

    /// A new stream (after a gap or a wipe): the runs start over; the count stays (it is not signal data).
    fn restart(&mut self) {
        *self = GyroscopeWatch { contradicting_windows: self.contradicting_windows, ..GyroscopeWatch::default() };
    }
}

/// Everything after the resampler: fusion, the window ring and the two feature extractions.
#[derive(Debug)]
struct BackEnd {
    gyroscope: GyroscopeWatch,
    fusion: Fusion,
    ring: Box<WindowRing>,
    view: Box<WindowView>,
    features: FeatureExtractor,
    fv: FeatureVector,
    slow: Box<WindowView>,
    slow_features: FeatureExtractor,
    slow_fv: FeatureVector,
}

impl BackEnd {
    /// One grid point: fusion, ring, and a window when one is due.
    #[inline]
    fn grid_point(&mut self, g: &GridSample, on_window: &mut impl FnMut(&WindowView, &FeatureVector, &FeatureVector)) {
        let gravity = self.fusion.update_state(g);
        self.gyroscope.points_with_gyro += u32::from(g.has_gyro);
        if self.ring.push(g.t_ns, &g.accel, &gravity, g.inputs) {
            self.window(on_window);
        }
    }

    /// Features of the window that is due (once per hop: out of line, so the per-sample path stays small).
    #[inline(never)]
    fn window(&mut self, on_window: &mut impl FnMut(&WindowView, &FeatureVector, &FeatureVector)) {
        self.ring.copy_window(&mut self.view);
        self.gyroscope.window(&self.view, &mut self.fusion);
        self.features.extract(&self.view, &mut self.fv);
        slow_view(&self.view, &mut self.slow);
        self.slow_features.extract(&self.slow, &mut self.slow_fv);
        on_window(&self.view, &self.fv, &self.slow_fv);
    }

    /// Starts over after a gap (the resampler already restarted). A gyroscope found contradicting stays ignored: the
    /// source is the same.
    fn restart(&mut self) {
        self.fusion.wipe();
        self.gyroscope.restart();
        self.ring.wipe();
        self.features.wipe();
        self.slow_features.wipe();
    }
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
            resampler: Resampler::new(max_gap_ns),
            back: BackEnd {
                gyroscope: GyroscopeWatch::default(),
                fusion: Fusion::new(),
                ring: Box::default(),
                view: Box::default(),
                features: FeatureExtractor::new(),
                fv: [0.0; N_FEATURES],
                slow: Box::default(),
                slow_features: FeatureExtractor::new(),
                slow_fv: [0.0; N_FEATURES],
            },
        }
    }

    /// Validates and feeds one sample; calls `on_window` with the window, its features and its slow-view features
    /// for every window it completes.
    pub fn push(
        &mut self,
        s: &Sample,
        on_window: impl FnMut(&WindowView, &FeatureVector, &FeatureVector),
    ) -> Result<PushOutcome, SampleError> {
        /// Reports every gap (threshold 0), so the outcome is exact.
        struct One<F> {
            on_window: F,
            outcome: PushOutcome,
        }
        impl<F: FnMut(&WindowView, &FeatureVector, &FeatureVector)> Sink for One<F> {
            type Stop = Infallible;
            fn gap_limit_ns(&self) -> i64 {
                0
            }
            fn live(&mut self) -> Result<(), Self::Stop> {
                Ok(())
            }
            fn gap(&mut self, outcome: PushOutcome) {
                self.outcome = outcome;
            }
            fn window(&mut self, view: &WindowView, fv: &FeatureVector, slow_fv: &FeatureVector) {
                (self.on_window)(view, fv, slow_fv);
            }
        }
        let mut one = One { on_window, outcome: PushOutcome { continuity: Continuity::Continued, gap_ns: 0 } };
        self.push_slice(std::slice::from_ref(s), s.gyro.is_some(), &mut one).map_err(SliceStop::into_error)?;
        Ok(one.outcome)
    }

    /// Validates and feeds `samples` in order (ignoring the gyroscope unless `use_gyro`), reporting windows and
    /// gaps to `sink` and asking it before every sample whether to go on. Stops at the first refused sample or
    /// failed `live`; the samples before it are taken. Returns the number of samples taken.
    ///
    /// The common sample (valid, no gap, inside the current grid bin) is a few comparisons and sums in
    /// [`Resampler::run`]; the rest goes through the resampler one sample at a time.
    pub(crate) fn push_slice<S: Sink>(
        &mut self,
        samples: &[Sample],
        use_gyro: bool,
        sink: &mut S,
    ) -> Result<usize, SliceStop<S::Stop>> {
        let gap_limit_ns = sink.gap_limit_ns();
        let mut pos = 0;
        loop {
            let stop =
                self.resampler.run(samples, &mut pos, use_gyro, gap_limit_ns, &mut Feed { back: &mut self.back, sink });
            let stop = stop.map_err(|reason| SliceStop::Stopped { index: pos, reason })?;
            let (s, gap_ns) = match (stop, samples.get(pos)) {
                (RunStop::End, _) | (_, None) => return Ok(pos),
                (RunStop::Invalid(error), _) => return Err(SliceStop::Invalid { index: pos, error }),
                (RunStop::Gap(gap_ns), Some(s)) => (s, gap_ns),
            };
            let gyro = s.gyro_if(use_gyro);
            let mut feed = Feed { back: &mut self.back, sink };
            let continuity = self.resampler.push_parts(s.t_ns, &s.accel, gyro, |g| feed.grid_point(g));
            if continuity == Continuity::Restarted {
                // The resampler already restarted at this sample; everything downstream starts over too.
                self.back.restart();
            }
            sink.gap(PushOutcome { continuity, gap_ns });
            pos += 1;
        }
    }

    /// What was found about the stream's gyroscope: windows that contradicted the accelerometer, and whether it is
    /// now ignored ([`GyroscopeCheck`]).
    pub fn gyroscope_check(&self) -> GyroscopeCheck {
        GyroscopeCheck {
            contradicting_windows: self.back.gyroscope.contradicting_windows,
            ignored: self.back.fusion.gyroscope_ignored(),
        }
    }

    /// Zeroizes every buffer; returns bytes wiped.
    pub fn wipe(&mut self) -> usize {
        let b = &mut self.back;
        let mut n =
            self.resampler.wipe() + b.fusion.wipe() + b.ring.wipe() + b.features.wipe() + b.slow_features.wipe();
        // What was found about the gyroscope is not signal data, and the source stays the same: kept, like a restart.
        b.gyroscope.restart();
        zeroize::Zeroize::zeroize(&mut *b.view);
        zeroize::Zeroize::zeroize(&mut *b.slow);
        zeroize::Zeroize::zeroize(&mut b.fv);
        zeroize::Zeroize::zeroize(&mut b.slow_fv);
        n += 2 * (std::mem::size_of::<WindowView>() + std::mem::size_of::<FeatureVector>());
        n
    }

    /// True when no buffer holds a non-zero signal byte.
    pub fn is_zero(&self) -> bool {
        let b = &self.back;
        self.resampler.is_zero()
            && b.fusion.is_zero()
            && b.ring.is_zero()
            && b.features.is_zero()
            && b.slow_features.is_zero()
            && [&*b.view, &*b.slow]
                .iter()
                .all(|v| v.accel.iter().flatten().all(|&x| x == 0.0) && v.up.iter().flatten().all(|&x| x == 0.0))
            && b.fv.iter().chain(&b.slow_fv).all(|&x| x == 0.0)
    }

    /// Bytes held in the front end's buffers (all allocated up front).
    pub fn buffer_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of::<WindowRing>()
            + 2 * std::mem::size_of::<WindowView>()
            + self.back.features.buffer_bytes()
            + self.back.slow_features.buffer_bytes()
    }
}

/// What a [`FrontEnd`] reports to while it takes a slice of samples.
pub(crate) trait Sink {
    /// Why [`Sink::live`] may stop the slice.
    type Stop;
    /// Gaps longer than this (ns) are reported through [`Sink::gap`] (0: every gap, and every sample).
    fn gap_limit_ns(&self) -> i64;
    /// Asked before every sample; an error stops the slice before that sample.
    fn live(&mut self) -> Result<(), Self::Stop>;
    /// A sample followed a gap longer than [`Sink::gap_limit_ns`], or was the first (gap 0).
    fn gap(&mut self, outcome: PushOutcome);
    /// A window was completed.
    fn window(&mut self, view: &WindowView, fv: &FeatureVector, slow_fv: &FeatureVector);
}

/// The back end and a sink, as the resampler's [`GridSink`].
struct Feed<'a, S> {
    back: &'a mut BackEnd,
    sink: &'a mut S,
}

impl<S: Sink> GridSink for Feed<'_, S> {
    type Stop = S::Stop;

    #[inline(always)]
    fn live(&mut self) -> Result<(), S::Stop> {
        self.sink.live()
    }

    #[inline]
    fn grid_point(&mut self, g: &GridSample) {
        let sink = &mut *self.sink;
        self.back.grid_point(g, &mut |v, f, sf| sink.window(v, f, sf));
    }
}

/// Why [`FrontEnd::push_slice`] stopped before the end of the slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SliceStop<E> {
    /// The sink's liveness check failed before sample `index` (the samples before it were taken).
    Stopped {
        /// Index in the slice.
        index: usize,
        /// What the check said.
        reason: E,
    },
    /// Sample `index` was refused (the samples before it were taken).
    Invalid {
        /// Index in the slice.
        index: usize,
        /// What is wrong.
        error: SampleError,
    },
}

impl SliceStop<Infallible> {
    /// The refused sample's error: the only way a slice that is never stopped can end early.
    fn into_error(self) -> SampleError {
        match self {
            SliceStop::Invalid { error, .. } => error,
            SliceStop::Stopped { reason, .. } => match reason {},
        }
    }
}

/// The pipeline's [`Sink`]: classifies each window and feeds the smoother.
struct Decide<'a, L> {
    model: &'a Model,
    smoother: &'a mut Smoother,
    events: &'a mut EventQueue,
    windows: &'a mut u64,
    windows_without_gravity: &'a mut u64,
    windows_refused: &'a mut RefusedWindows,
    refusal_check: &'a mut RefusalCheck,
    reset_smoother_gap_ns: i64,
    live: L,
}

impl<E, L: FnMut() -> Result<(), E>> Sink for Decide<'_, L> {
    type Stop = E;

    fn gap_limit_ns(&self) -> i64 {
        self.reset_smoother_gap_ns
    }

    #[inline(always)]
    fn live(&mut self) -> Result<(), E> {
        (self.live)()
    }

    fn gap(&mut self, outcome: PushOutcome) {
        if outcome.gap_ns > self.reset_smoother_gap_ns {
            self.smoother.reset();
        }
    }

    fn window(&mut self, view: &WindowView, fv: &FeatureVector, slow_fv: &FeatureVector) {
        let refused = self.refusal_check.check(view, fv);
        let judged = refused.is_none();
        let probs: Option<[f32; N_CLASSES]> =
            if judged { self.model.predict(fv, slow_fv, view.input_rate_hz, view.holds_gravity()) } else { None };
        self.smoother.step(probs.as_ref(), view.start_ns, view.end_ns, self.events);
        *self.windows += 1;
        // A window refused as a dead sensor or as acceleration in g is not judged at all: it says nothing about
        // linear acceleration, so it is not counted as such.
        *self.windows_without_gravity += u64::from(judged && !view.holds_gravity());
        if let Some(r) = refused {
            self.windows_refused.count(r);
        }
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
    windows_without_gravity: u64,
    windows_refused: RefusedWindows,
    refusal_check: RefusalCheck,
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
            windows_without_gravity: 0,
            windows_refused: RefusedWindows::default(),
            refusal_check: RefusalCheck::new(),
            samples_accepted: 0,
        }
    }

    /// Feeds one sample; decisions and transitions are appended to the event queue.
    pub fn push(&mut self, s: &Sample) -> Result<(), SampleError> {
        self.push_slice(std::slice::from_ref(s), s.gyro.is_some(), || Ok::<(), Infallible>(()))
            .map_err(SliceStop::into_error)
    }

    /// Feeds samples in order, calling `live` before each one and stopping at the first failure (of `live` or of
    /// validation); the samples before it are taken. The gyroscope is ignored unless `use_gyro`. This is the
    /// session's path: one call per pushed slice.
    pub(crate) fn push_slice<E>(
        &mut self,
        samples: &[Sample],
        use_gyro: bool,
        live: impl FnMut() -> Result<(), E>,
    ) -> Result<(), SliceStop<E>> {
        let mut sink = Decide {
            model: &self.model,
            smoother: &mut self.smoother,
            events: &mut self.events,
            windows: &mut self.windows_classified,
            windows_without_gravity: &mut self.windows_without_gravity,
            windows_refused: &mut self.windows_refused,
            refusal_check: &mut self.refusal_check,
            reset_smoother_gap_ns: self.reset_smoother_gap_ns,
            live,
        };
        let taken = self.front.push_slice(samples, use_gyro, &mut sink);
        let n = match &taken {
            Ok(n) => *n,
            Err(SliceStop::Invalid { index, .. } | SliceStop::Stopped { index, .. }) => *index,
        };
        self.samples_accepted += n as u64;
        taken.map(|_| ())
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

    /// Of [`Pipeline::windows_classified`], the windows judged by the model whose input held no gravity (see
    /// [`WindowView::holds_gravity`]): a source of linear acceleration (Android's `TYPE_LINEAR_ACCELERATION`,
    /// iOS's `userAcceleration`) instead of the raw accelerometer. The model judges such windows with its
    /// gravity-free pair of classifiers ([`Model::predict`]), which has less information (no vertical axis) and is
    /// less accurate (model card, Known weaknesses), so an app that sees this count grow is feeding the wrong
    /// sensor. Windows that [`RefusalCheck`] refuses (a dead sensor, acceleration in g) are not counted: they are not
    /// judged at all ([`Pipeline::windows_refused`]).
    pub fn windows_without_gravity(&self) -> u64 {
        self.windows_without_gravity
    }

    /// Of [`Pipeline::windows_classified`], the windows refused unjudged, by reason: each was reported `Unknown`.
    /// A count that grows with the windows classified means the input is unusable as it is fed (a dead sensor, or
    /// acceleration in g where m/s^2 are expected).
    pub fn windows_refused(&self) -> RefusedWindows {
        self.windows_refused
    }

    /// What was found about the stream's gyroscope ([`GyroscopeCheck`]): windows whose gravity estimate the
    /// gyroscope turned away from the gravity the accelerometer shows (as rates in deg/s where rad/s are expected do),
    /// and whether the gyroscope is therefore ignored from now on. Counts, not signal data: a wipe does not reset them.
    pub fn gyroscope_check(&self) -> GyroscopeCheck {
        self.front.gyroscope_check()
    }

    /// Number of samples accepted since creation.
    pub fn samples_accepted(&self) -> u64 {
        self.samples_accepted
    }

    /// Zeroizes every buffer that holds raw or derived signal data and resets the stream; returns bytes wiped.
    pub fn wipe(&mut self) -> usize {
        let n = self.front.wipe();
        self.smoother.reset();
        self.refusal_check.reset();
        self.events.clear();
        n
    }

    /// True when no buffer holds a non-zero byte of signal data (used by tests after a purge).
    pub fn raw_buffers_are_zero(&self) -> bool {
        self.front.is_zero() && self.smoother.is_reset() && self.events.is_blank() && self.refusal_check.is_reset()
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

    /// A pipeline fed `samples`.
    fn fed(samples: impl IntoIterator<Item = Sample>) -> Pipeline {
        let mut p = Pipeline::with_model(model(), PipelineConfig::default());
        for s in samples {
            p.push(&s).unwrap();
        }
        p
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
    fn windows_without_gravity_are_counted() {
        let raw = fed(walk(0, 50 * 60, 50.0));
        assert_eq!(raw.windows_classified(), 23);
        assert_eq!(raw.windows_without_gravity(), 0);
        // The same gait as linear acceleration: no slow component at all.
        let mut linear =
            fed(walk(0, 50 * 60, 50.0).into_iter().map(|s| Sample::accel(s.t_ns, 0.0, 0.0, s.accel[2] - 9.81)));
        assert_eq!(linear.windows_classified(), 23);
        assert_eq!(linear.windows_without_gravity(), 23);
        // A count, not signal data: a wipe keeps it.
        linear.wipe();
        assert_eq!(linear.windows_without_gravity(), 23);
        // Acceleration in g is refused unjudged, not taken for linear acceleration.
        let in_g = fed(walk(0, 50 * 60, 50.0).into_iter().map(|s| {
            let a = s.accel / 9.81;
            Sample::accel(s.t_ns, a.x, a.y, a.z)
        }));
        assert_eq!(in_g.windows_classified(), 23);
        assert_eq!(in_g.windows_without_gravity(), 0);
        assert_eq!(in_g.windows_refused(), RefusedWindows { dead_sensor: 0, acceleration_in_g: 23 });
        assert_eq!(raw.windows_refused().total() + linear.windows_refused().total(), 0);
        // A dead sensor is refused as such.
        let dead = fed((0..50 * 60).map(|i| Sample::accel(i * 20_000_000, 0.0, 0.0, 0.0)));
        assert_eq!(dead.windows_refused(), RefusedWindows { dead_sensor: 23, acceleration_in_g: 0 });
    }

    /// Linear acceleration at 50 Hz: a 3-Hz vibration of 0.3 m/s^2 on top of `slow(t)` along x.
    fn linear(t0_s: f64, seconds: f64, slow: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..(seconds * 50.0) as usize)
            .map(|i| {
                let t = t0_s + i as f64 / 50.0;
                let v = 0.3 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                Sample::accel((t * 1e9) as i64, (slow(t) + v) as f32, (0.5 * v) as f32, (-0.7 * v) as f32)
            })
            .collect()
    }

    #[test]
    fn a_vehicle_braking_in_linear_acceleration_is_judged_but_gravity_in_g_never_is() {
        // Cruise, brake at 1 m/s^2 for 20 s (the slow magnitude of gravity in g), cruise: every window is judged.
        let ride = fed(linear(0.0, 120.0, |t| if (40.0..60.0).contains(&t) { 1.0 } else { 0.0 }));
        assert_eq!(ride.windows_classified(), 47);
        assert_eq!(ride.windows_refused().total(), 0);
        assert_eq!(ride.windows_without_gravity(), 47);
        // The same 1 m/s^2 from the start: nothing has shown linear acceleration yet, so it reads as gravity in g.
        let from_start = fed(linear(0.0, 60.0, |_| 1.0));
        assert_eq!(from_start.windows_refused(), RefusedWindows { dead_sensor: 0, acceleration_in_g: 23 });
        // Held for 90 s after cruising: judged for 30 s after the last window near 0, refused after that.
        let held = fed(linear(0.0, 130.0, |t| if t >= 40.0 { 1.0 } else { 0.0 }));
        let refused = held.windows_refused().acceleration_in_g;
        assert!((20..=30).contains(&refused), "{refused} of {} windows refused", held.windows_classified());
        // A wipe forgets the stream: the check starts over.
        let mut wiped = held;
        wiped.wipe();
        assert!(wiped.raw_buffers_are_zero());
        for s in linear(200.0, 20.0, |_| 1.0) {
            wiped.push(&s).unwrap();
        }
        assert_eq!(wiped.windows_refused().acceleration_in_g, refused + 7);
    }

    #[test]
    fn a_walker_in_linear_acceleration_is_judged_from_the_start() {
        // A slow sway of 4 m/s^2 at 0.4 Hz: its slow component (the 1-s low-pass keeps 37% of it) averages about 1
        // in magnitude (gravity's in g) over every window, but every 5-s window holds two whole periods, so its mean
        // is near 0, as a walker's is.
        let sway = |t: f64| 4.0 * (2.0 * std::f64::consts::PI * 0.4 * t).sin();
        let walker = fed(linear(0.0, 60.0, sway));
        assert_eq!(walker.windows_without_gravity(), 23);
        assert_eq!(walker.windows_refused().total(), 0);
        // Shifted off 0 by 1 m/s^2, the same sway's mean is 1: nothing shows linear acceleration, so it is refused.
        let shifted = fed(linear(0.0, 60.0, |t| 1.0 + 0.1 * sway(t)));
        assert_eq!(shifted.windows_refused().acceleration_in_g, 23);
        // Training's rule takes only a slow component near 0 for evidence: it leaves the walker out.
        let refused_by = |rule: RefusalRule| {
            let mut front = FrontEnd::new(PipelineConfig::default().max_gap_ns);
            let mut check = RefusalCheck::with_rule(rule);
            let mut refused = 0;
            for s in linear(0.0, 60.0, sway) {
                front.push(&s, |view, fv, _| refused += usize::from(check.check(view, fv).is_some())).unwrap();
            }
            refused
        };
        assert_eq!(refused_by(RefusalRule::Live), 0);
        assert_eq!(refused_by(RefusalRule::Training), 23);
    }

    #[test]
    fn invalid_samples_are_refused_without_state_change() {
        let mut p = Pipeline::with_model(model(), PipelineConfig::default());
        p.push(&Sample::accel(1000, 0.0, 0.0, 9.8)).unwrap();
        assert_eq!(p.push(&Sample::accel(999, 0.0, 0.0, 9.8)), Err(SampleError::TimeBackwards));
        assert_eq!(p.push(&Sample::accel(1000, 0.0, 0.0, 9.8)), Err(SampleError::TimeRepeated));
        assert!(p.push(&Sample::accel(2000, f32::NAN, 0.0, 9.8)).is_err());
        p.push(&Sample::accel(2000, 0.0, 0.0, 9.8)).unwrap();
        assert_eq!(p.samples_accepted(), 2);
    }

    #[test]
    fn input_over_1200_hz_is_refused_on_every_path() {
        // The front end alone judges every sample after a gap stop (its gap limit is 0), the pipeline in runs: the
        // 61st sample of one 50-ms period is refused by both, and a sample past the period is taken again.
        let at = |i: i64| Sample::accel(i * 1_000, 0.0, 0.0, 9.8);
        let mut front = FrontEnd::new(PipelineConfig::default().max_gap_ns);
        let mut p = Pipeline::with_model(model(), PipelineConfig::default());
        for i in 0..=60 {
            front.push(&at(i), |_, _, _| {}).unwrap();
            p.push(&at(i)).unwrap();
        }
        assert_eq!(front.push(&at(61), |_, _, _| {}).unwrap_err(), SampleError::TooFast);
        assert_eq!(p.push(&at(61)), Err(SampleError::TooFast));
        let later = Sample::accel(60_000_000, 0.0, 0.0, 9.8);
        assert!(front.push(&later, |_, _, _| {}).is_ok() && p.push(&later).is_ok());
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
