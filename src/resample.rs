//! Irregular input -> a fixed internal rate.
//!
//! Input between about 1 and 1000 Hz, regular or event-driven, becomes a grid at [`RATE_HZ`]. Each grid point
//! `G` summarises the input in `(G - dt, G]`: the mean of the samples that fell there (a box filter, which also
//! anti-aliases fast input), or, when no sample fell there (slow input), the linear interpolation between the last
//! sample before `G` and the first after it. A gap longer than the configured limit is not bridged: the caller is
//! told to restart the stream. Each grid point carries how many input samples it summarises, so that windows
//! know their real input rate and can be flagged as too sparse to resolve gait.

use nalgebra::Vector3;

use crate::sample::Sample;

/// The internal sample rate, Hz.
pub const RATE_HZ: f32 = 20.0;
/// The internal sample period, nanoseconds.
pub const PERIOD_NS: i64 = 50_000_000;

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

/// The streaming resampler. No allocation.
#[derive(Debug, Clone, Default)]
pub struct Resampler {
    max_gap_ns: i64,
    last: Option<Sample>,
    next_grid_ns: i64,
    sum_a: Vector3<f32>,
    sum_g: Vector3<f32>,
    n: u16,
    n_gyro: u16,
}

impl Resampler {
    /// A resampler that restarts after gaps longer than `max_gap_ns`.
    pub fn new(max_gap_ns: i64) -> Self {
        Resampler { max_gap_ns: max_gap_ns.max(PERIOD_NS), ..Default::default() }
    }

    /// Feeds one validated sample (time strictly after the previous one) and calls `emit` for every grid point it
    /// completes, in time order. Returns whether the stream continued or restarted at this sample; on a restart,
    /// nothing is emitted for the gap and the caller should reset everything downstream first.
    pub fn push(&mut self, s: &Sample, mut emit: impl FnMut(&GridSample)) -> Continuity {
        let last = match self.last {
            Some(l) if s.t_ns > l.t_ns && s.t_ns.saturating_sub(l.t_ns) <= self.max_gap_ns => l,
            _ => {
                self.restart_at(s);
                return Continuity::Restarted;
            }
        };
        while s.t_ns > self.next_grid_ns {
            let g = self.next_grid_ns;
            let out = if self.n > 0 {
                let inv = 1.0 / f32::from(self.n);
                GridSample {
                    t_ns: g,
                    accel: self.sum_a * inv,
                    gyro: if self.n_gyro > 0 { self.sum_g / f32::from(self.n_gyro) } else { Vector3::zeros() },
                    has_gyro: self.n_gyro > 0,
                    inputs: self.n,
                }
            } else {
                // No input fell in this bin: interpolate between the samples around g.
                let span = (s.t_ns - last.t_ns) as f64;
                let w = (((g - last.t_ns) as f64) / span).clamp(0.0, 1.0) as f32;
                let (gyro, has_gyro) = match (last.gyro, s.gyro) {
                    (Some(a), Some(b)) => (a.lerp(&b, w), true),
                    _ => (Vector3::zeros(), false),
                };
                GridSample { t_ns: g, accel: last.accel.lerp(&s.accel, w), gyro, has_gyro, inputs: 0 }
            };
            emit(&out);
            self.sum_a = Vector3::zeros();
            self.sum_g = Vector3::zeros();
            self.n = 0;
            self.n_gyro = 0;
            self.next_grid_ns = self.next_grid_ns.saturating_add(PERIOD_NS);
        }
        self.add(s);
        self.last = Some(*s);
        Continuity::Continued
    }

    fn restart_at(&mut self, s: &Sample) {
        self.sum_a = Vector3::zeros();
        self.sum_g = Vector3::zeros();
        self.n = 0;
        self.n_gyro = 0;
        self.next_grid_ns = s.t_ns;
        self.add(s);
        self.last = Some(*s);
    }

    fn add(&mut self, s: &Sample) {
        self.sum_a += s.accel;
        self.n = self.n.saturating_add(1);
        if let Some(g) = s.gyro {
            self.sum_g += g;
            self.n_gyro = self.n_gyro.saturating_add(1);
        }
    }

    /// Forgets the stream and overwrites every stored value with zeros.
    pub fn wipe(&mut self) -> usize {
        let max_gap_ns = self.max_gap_ns;
        *self = Resampler::new(max_gap_ns);
        std::mem::size_of::<Self>()
    }

    /// True when no raw value is held.
    pub fn is_zero(&self) -> bool {
        self.last.is_none() && self.n == 0 && self.sum_a == Vector3::zeros() && self.sum_g == Vector3::zeros()
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
    }
}
