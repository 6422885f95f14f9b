//! Irregular input -> a fixed internal rate.
//!
//! Input between about 1 and 1000 Hz, regular or event-driven, becomes a grid at [`RATE_HZ`] (a sample that would
//! be the 61st in one grid period, over [`MAX_INPUTS_PER_PERIOD`], is refused as [`SampleError::TooFast`]). Each grid point
//! `G` summarises the input in `(G - dt, G]`: the mean of the samples that fell there (a box filter, which also
//! anti-aliases fast input), or, when no sample fell there (slow input), the linear interpolation between the last
//! sample before `G` and the first after it. A gap longer than the configured limit is not bridged: the caller is
//! told to restart the stream. Each grid point carries how many input samples it summarises, so that windows
//! know their real input rate and can be flagged as too sparse to resolve gait.

use nalgebra::Vector3;

use crate::sample::{check_parts, Sample, SampleError};

/// The internal sample rate, Hz.
pub const RATE_HZ: f32 = 20.0;
/// The internal sample period, nanoseconds.
pub const PERIOD_NS: i64 = 50_000_000;
/// Most input samples one grid period may summarise: 1200 Hz, a margin above any phone sensor's rate (fast ones deliver
/// 400-500 Hz) and the 1000 Hz this crate supports. More means timestamps in the wrong unit, refused as [`SampleError::TooFast`].
pub const MAX_INPUTS_PER_PERIOD: u32 = 60;

/// One point of the internal grid.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GridSample {
    /// Grid time, ns.
    pub t_ns: i64,
    /// Acceleration, m/s^2 including gravity.
    pub accel: Vector3<f32>,
    /// Angular rate, rad/s (zero when absent).
    pub gyro: Vector3<f32>,
    /// Whether `gyro` holds a measurement.
    pub has_gyro: bool,
    /// Number of input samples this point summarises (0 when interpolated).
    pub inputs: u16,
}

/// What one input sample did to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// The sample continued the stream.
    Continued,
    /// The sample followed a gap longer than the limit (or was the first): the stream restarted at it.
    Restarted,
}

/// Where [`Resampler::run`] stopped; in every case but `End`, at `samples[*pos]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunStop {
    /// Every sample was taken.
    End,
    /// The sample is valid and follows a gap (ns) beyond the limit, or is the first (gap 0): feed it with
    /// [`Resampler::push_parts`], which restarts the stream when the gap is beyond the resampler's own limit.
    Gap(i64),
    /// The sample is refused.
    Invalid(SampleError),
}

/// Where [`Resampler::run`] sends grid points, and whom it asks before each sample.
pub(crate) trait GridSink {
    /// Why [`GridSink::live`] may stop the run.
    type Stop;
    /// Asked before every sample; an error stops the run before that sample.
    fn live(&mut self) -> Result<(), Self::Stop>;
    /// One grid point, in time order.
    fn grid_point(&mut self, g: &GridSample);
}

/// The streaming resampler. No allocation.
#[derive(Debug, Clone, Default)]
pub struct Resampler {
    max_gap_ns: i64,
    /// The previous sample (time, acceleration, gyroscope), kept for interpolation; `has_last` is false before the
    /// first. Plain values with flags rather than `Option`s, so that a wipe overwrites the values themselves (setting
    /// an `Option` to `None` writes only its tag and leaves the last reading in memory) and [`Resampler::is_zero`]
    /// can check them.
    has_last: bool,
    last_t_ns: i64,
    last_accel: Vector3<f32>,
    has_last_gyro: bool,
    last_gyro: Vector3<f32>,
    next_grid_ns: i64,
    sum_a: Vector3<f32>,
    sum_g: Vector3<f32>,
    /// Samples in the current bin. Timestamps strictly increase, so a 50-ms bin holds at most 50 million: no
    /// overflow (the count is clamped to `u16` only when reported).
    n: u32,
    n_gyro: u32,
}

impl Resampler {
    /// A resampler that restarts after gaps longer than `max_gap_ns`.
    pub fn new(max_gap_ns: i64) -> Self {
        Resampler { max_gap_ns: max_gap_ns.max(PERIOD_NS), ..Default::default() }
    }

    /// Feeds one validated sample (time strictly after the previous one) and calls `emit` for every grid point it
    /// completes, in time order. Returns whether the stream continued or restarted at this sample; on a restart,
    /// nothing is emitted for the gap and the caller should reset everything downstream first.
    pub fn push(&mut self, s: &Sample, emit: impl FnMut(&GridSample)) -> Continuity {
        self.push_parts(s.t_ns, &s.accel, s.gyro.as_ref(), emit)
    }

    /// Validates and takes the samples of `samples[*pos..]` that continue the stream (valid, in time order,
    /// after a gap of at most `gap_limit_ns`), giving `to` every grid point they complete. Stops (with `*pos` at
    /// the sample in question) at the first one that is refused or follows a longer gap, or when `to.live()`, asked
    /// before every sample, fails. This is the per-sample path of a live session: a few comparisons and sums per
    /// sample, and no copy of the sample (the previous one is read from the slice when a grid point needs it).
    #[inline(always)]
    pub(crate) fn run<E>(
        &mut self,
        samples: &[Sample],
        pos: &mut usize,
        use_gyro: bool,
        gap_limit_ns: i64,
        to: &mut impl GridSink<Stop = E>,
    ) -> Result<RunStop, E> {
        let start = *pos;
        // Gaps beyond the smaller limit need a decision (a restart here, a smoother reset for the caller).
        let gap_limit = gap_limit_ns.min(self.max_gap_ns).max(0) as u64;
        let mut i = start;
        let stop = loop {
            let Some(s) = samples.get(i) else { break Ok(RunStop::End) };
            if let Err(e) = to.live() {
                break Err(e);
            }
            let gyro = s.gyro_if(use_gyro);
            if let Err(e) = check_parts(&s.accel, gyro) {
                break Ok(RunStop::Invalid(e));
            }
            let t = s.t_ns;
            if !self.has_last {
                break Ok(RunStop::Gap(0));
            }
            let last = self.last_t_ns;
            if t <= last {
                break Ok(RunStop::Invalid(if t < last {
                    SampleError::TimeBackwards
                } else {
                    SampleError::TimeRepeated
                }));
            }
            // `t > last` makes the wrapping difference the true, positive gap (no overflow for any pair of i64).
            let gap = t.wrapping_sub(last) as u64;
            if gap > gap_limit {
                // The caller takes this sample on its own (every sample when the gap limit is 0): judged here too.
                if self.would_overfill(t) {
                    break Ok(RunStop::Invalid(SampleError::TooFast));
                }
                break Ok(RunStop::Gap(i64::try_from(gap).unwrap_or(i64::MAX)));
            }
            if t > self.next_grid_ns {
                if i > start {
                    let p = &samples[i - 1];
                    self.keep_last(&p.accel, p.gyro_if(use_gyro).copied());
                }
                self.emit_due(t, &s.accel, gyro, |g| to.grid_point(g));
            } else if self.would_overfill(t) {
                break Ok(RunStop::Invalid(SampleError::TooFast));
            }
            self.add(&s.accel, gyro);
            self.last_t_ns = t;
            i += 1;
        };
        if i > start {
            let p = &samples[i - 1];
            self.keep_last(&p.accel, p.gyro_if(use_gyro).copied());
        }
        *pos = i;
        stop
    }

    /// [`Resampler::push`] on a sample's parts (the gyroscope already dropped when it may not be used). The live
    /// path takes only the samples [`Resampler::run`] stops at through here.
    pub(crate) fn push_parts(
        &mut self,
        t_ns: i64,
        accel: &Vector3<f32>,
        gyro: Option<&Vector3<f32>>,
        emit: impl FnMut(&GridSample),
    ) -> Continuity {
        // `t > last` makes the wrapping difference the true, positive gap (no overflow for any pair of i64).
        let last = self.last_t_ns;
        let continues =
            self.has_last && t_ns > last && (t_ns.wrapping_sub(last) as u64) <= self.max_gap_ns as u64;
        let continuity = if continues {
            if t_ns > self.next_grid_ns {
                self.emit_due(t_ns, accel, gyro, emit);
            }
            Continuity::Continued
        } else {
            // A new stream: its first grid point is this sample's time.
            self.clear_bin();
            self.next_grid_ns = t_ns;
            Continuity::Restarted
        };
        self.add(accel, gyro);
        self.has_last = true;
        self.last_t_ns = t_ns;
        self.keep_last(accel, gyro.copied());
        continuity
    }

    /// Emits every grid point before `t_ns` (the sample at `t_ns` is not yet added).
    #[inline(never)]
    fn emit_due(
        &mut self,
        t_ns: i64,
        accel: &Vector3<f32>,
        gyro: Option<&Vector3<f32>>,
        mut emit: impl FnMut(&GridSample),
    ) {
        while t_ns > self.next_grid_ns {
            let out = if self.n > 0 { self.bin_mean() } else { self.interpolate(t_ns, accel, gyro) };
            emit(&out);
            self.clear_bin();
            self.next_grid_ns = self.next_grid_ns.saturating_add(PERIOD_NS);
        }
    }

    /// The grid point at `next_grid_ns` as the mean of its bin's samples (`n > 0`): the usual case at input rates
    /// of 20 Hz and more.
    #[inline(always)]
    fn bin_mean(&self) -> GridSample {
        let inv = 1.0 / self.n as f32;
        GridSample {
            t_ns: self.next_grid_ns,
            accel: self.sum_a * inv,
            gyro: if self.n_gyro > 0 { self.sum_g * (1.0 / self.n_gyro as f32) } else { Vector3::zeros() },
            has_gyro: self.n_gyro > 0,
            inputs: u16::try_from(self.n).unwrap_or(u16::MAX),
        }
    }

    /// The grid point at `next_grid_ns` when no input fell in its bin: the interpolation between the previous
    /// sample and the one at `t_ns`. Out of line, so that its set-up does not weigh on every grid point of
    /// faster input (not `#[cold]`: below 20 Hz it is the common case).
    #[inline(never)]
    fn interpolate(&self, t_ns: i64, accel: &Vector3<f32>, gyro: Option<&Vector3<f32>>) -> GridSample {
        let g = self.next_grid_ns;
        let last_t_ns = if self.has_last { self.last_t_ns } else { t_ns };
        let span = (t_ns - last_t_ns) as f64;
        let w = (((g - last_t_ns) as f64) / span).clamp(0.0, 1.0) as f32;
        let (gyro, has_gyro) = match gyro {
            Some(b) if self.has_last_gyro => (self.last_gyro.lerp(b, w), true),
            _ => (Vector3::zeros(), false),
        };
        GridSample { t_ns: g, accel: self.last_accel.lerp(accel, w), gyro, has_gyro, inputs: 0 }
    }

    /// Whether a sample at `t_ns` (after the previous one) would overfill the current grid bin: one more than
    /// [`MAX_INPUTS_PER_PERIOD`] in it. A sample past the bin's grid point emits it and starts an empty one.
    #[inline(always)]
    fn would_overfill(&self, t_ns: i64) -> bool {
        t_ns <= self.next_grid_ns && self.n >= MAX_INPUTS_PER_PERIOD
    }

    /// Empties the current grid bin.
    #[inline(always)]
    fn clear_bin(&mut self) {
        self.sum_a = Vector3::zeros();
        self.sum_g = Vector3::zeros();
        self.n = 0;
        self.n_gyro = 0;
    }

    /// Keeps the previous sample's values for interpolating an empty bin.
    #[inline(always)]
    fn keep_last(&mut self, accel: &Vector3<f32>, gyro: Option<Vector3<f32>>) {
        self.last_accel = *accel;
        self.has_last_gyro = gyro.is_some();
        self.last_gyro = gyro.unwrap_or_else(Vector3::zeros);
    }

    #[inline(always)]
    fn add(&mut self, accel: &Vector3<f32>, gyro: Option<&Vector3<f32>>) {
        self.sum_a += accel;
        self.n += 1;
        if let Some(g) = gyro {
            self.sum_g += g;
            self.n_gyro += 1;
        }
    }

    /// Forgets the stream and overwrites every stored value with zeros.
    pub fn wipe(&mut self) -> usize {
        let max_gap_ns = self.max_gap_ns;
        *self = Resampler::new(max_gap_ns);
        std::mem::size_of::<Self>()
    }

    /// True when no raw value is held: every stored time and reading is zero, not merely marked absent.
    pub fn is_zero(&self) -> bool {
        !self.has_last
            && self.last_t_ns == 0
            && self.next_grid_ns == 0
            && self.last_accel == Vector3::zeros()
            && !self.has_last_gyro
            && self.last_gyro == Vector3::zeros()
            && self.n == 0
            && self.n_gyro == 0
            && self.sum_a == Vector3::zeros()
            && self.sum_g == Vector3::zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[Sample], max_gap_ns: i64) -> (Vec<GridSample>, usize) {
        let mut r = Resampler::new(max_gap_ns);
        let mut out = Vec::new();
        let mut restarts = 0;
        for s in input {
            if r.push(s, |g| out.push(*g)) == Continuity::Restarted {
                restarts += 1;
            }
        }
        (out, restarts)
    }

    #[test]
    fn on_grid_input_is_returned_unchanged() {
        let input: Vec<Sample> =
            (0..50).map(|i| Sample::accel(i * PERIOD_NS, i as f32, (i * i) as f32 * 0.01, 9.8)).collect();
        let (out, restarts) = run(&input, 1_000_000_000);
        assert_eq!(restarts, 1);
        assert_eq!(out.len(), 49, "the last grid point waits for the next sample");
        for (o, i) in out.iter().zip(&input) {
            assert_eq!(o.t_ns, i.t_ns);
            assert_eq!(o.accel, i.accel);
            assert_eq!(o.inputs, 1);
        }
    }

    #[test]
    fn fast_input_is_averaged_and_counted() {
        // 100 Hz input: 5 samples per grid bin.
        let input: Vec<Sample> = (0..101).map(|i| Sample::accel(i * 10_000_000, 1.0, 2.0, 3.0)).collect();
        let (out, _) = run(&input, 1_000_000_000);
        assert_eq!(out.len(), 20);
        assert!(out[1..].iter().all(|g| g.inputs == 5 && (g.accel - Vector3::new(1.0, 2.0, 3.0)).norm() < 1e-6));
    }

    #[test]
    fn slow_input_is_interpolated() {
        // 2 Hz input with a linear ramp: grid points in between are interpolated exactly.
        let input: Vec<Sample> = (0..5).map(|i| Sample::accel(i * 500_000_000, i as f32, 0.0, 9.8)).collect();
        let (out, _) = run(&input, 1_000_000_000);
        assert_eq!(out.len(), 40);
        for g in &out {
            let expect = g.t_ns as f32 / 500_000_000.0;
            assert!((g.accel.x - expect).abs() < 1e-5, "{} vs {}", g.accel.x, expect);
        }
        assert_eq!(out.iter().filter(|g| g.inputs > 0).count(), 4);
    }

    #[test]
    fn gap_restarts_instead_of_inventing_data() {
        let mut input: Vec<Sample> = (0..10).map(|i| Sample::accel(i * PERIOD_NS, 0.0, 0.0, 9.8)).collect();
        input.extend((0..10).map(|i| Sample::accel(3_000_000_000 + i * PERIOD_NS, 0.0, 0.0, 9.8)));
        let (out, restarts) = run(&input, 1_000_000_000);
        assert_eq!(restarts, 2);
        assert!(out.iter().all(|g| g.t_ns < 500_000_000 || g.t_ns >= 3_000_000_000));
        assert_eq!(out.len(), 18);
    }

    #[test]
    fn wipe_zeroes() {
        let mut r = Resampler::new(1_000_000_000);
        r.push(&Sample::accel(0, 1.0, 2.0, 3.0), |_| {});
        assert!(!r.is_zero());
        r.wipe();
        assert!(r.is_zero());
        // The last gyroscope reading and time are overwritten, not just marked absent (`is_zero` reads the values;
        // the field-by-field `Debug` shows them).
        let gyro = Sample { gyro: Some(Vector3::new(1.25, -2.5, 3.75)), ..Sample::accel(7_000_000_000, 1.0, 2.0, 3.0) };
        r.push(&gyro, |_| {});
        assert!(format!("{r:?}").contains("3.75"));
        r.wipe();
        assert!(r.is_zero());
        let wiped = format!("{r:?}");
        assert!(!wiped.contains("3.75") && !wiped.contains("7000000000"), "{wiped}");
    }
}
