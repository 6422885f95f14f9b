//! Fixed-capacity ring of fused grid samples and the sliding-window schedule.
//!
//! Allocated once per session; zeroized on purge and on drop (the `zeroize` crate), because it holds raw motion.

use nalgebra::Vector3;
use zeroize::Zeroize;

use crate::fusion::GravityEstimate;

/// Window length in grid samples (5 s at 20 Hz).
pub const WINDOW_LEN: usize = 100;
/// Hop between windows in grid samples (2.5 s at 20 Hz).
pub const HOP_LEN: usize = 50;

/// The samples of one window in time order, copied out of the ring (stack arrays; no allocation).
#[derive(Debug, Clone)]
pub struct WindowView {
    /// Acceleration x, y, z (m/s^2, as measured).
    pub accel: [[f32; WINDOW_LEN]; 3],
    /// Gravity direction x, y, z (unit vector per sample).
    pub up: [[f32; WINDOW_LEN]; 3],
    /// Fraction of samples whose gravity estimate was plausible.
    pub gravity_fraction: f32,
    /// Mean magnitude of the slow (gravity) component, m/s^2.
    pub gravity_norm: f32,
    /// Input samples per second over the window (the real input rate, before resampling).
    pub input_rate_hz: f32,
    /// Grid time of the first sample, ns.
    pub start_ns: i64,
    /// Grid time of the last sample, ns.
    pub end_ns: i64,
}

impl WindowView {
    /// Whether the window's input held gravity: a slow component of plausible magnitude (6.5-13 m/s^2) in at least
    /// half of its samples. Where it did not (a source of linear acceleration), the features take the principal
    /// axis of motion for vertical.
    pub fn holds_gravity(&self) -> bool {
        self.gravity_fraction >= 0.5
    }

    /// Magnitude of the window's mean acceleration, m/s^2 (its mean vector over the window, as measured).
    pub fn mean_norm(&self) -> f32 {
        let mean = |axis: &[f32; WINDOW_LEN]| axis.iter().sum::<f32>() / WINDOW_LEN as f32;
        Vector3::new(mean(&self.accel[0]), mean(&self.accel[1]), mean(&self.accel[2])).norm()
    }
}

impl Default for WindowView {
    fn default() -> Self {
        WindowView {
            accel: [[0.0; WINDOW_LEN]; 3],
            up: [[0.0; WINDOW_LEN]; 3],
            gravity_fraction: 0.0,
            gravity_norm: 0.0,
            input_rate_hz: 0.0,
            start_ns: 0,
            end_ns: 0,
        }
    }
}

impl Zeroize for WindowView {
    fn zeroize(&mut self) {
        self.accel.zeroize();
        self.up.zeroize();
        self.gravity_fraction = 0.0;
        self.gravity_norm = 0.0;
        self.input_rate_hz = 0.0;
        self.start_ns = 0;
        self.end_ns = 0;
    }
}

/// Grid samples between the points of a slow view (0.4 s: 2.5 Hz).
pub const SLOW_STRIDE: usize = 8;

/// The interpolation weight of each grid index of a slow view, between the point before it and the point after it
/// (computed at compile time: the slow view is on the per-window hot path). The points are every
/// [`SLOW_STRIDE`]-th sample and the last one.
const SLOW_W: [f32; WINDOW_LEN] = {
    let mut w = [0.0f32; WINDOW_LEN];
    let last = WINDOW_LEN - 1;
    let mut i = 0;
    while i < last {
        let j = if i + SLOW_STRIDE < last { i + SLOW_STRIDE } else { last };
        let mut m = i;
        while m <= j {
            w[m] = (m - i) as f32 / (j - i) as f32;
            m += 1;
        }
        i = j;
    }
    w
};

/// The weights within one full segment of a slow view (`m / SLOW_STRIDE`, the values [`SLOW_W`] repeats).
const SEGMENT_W: [f32; SLOW_STRIDE] = {
    let mut w = [0.0f32; SLOW_STRIDE];
    let mut m = 0;
    while m < SLOW_STRIDE {
        w[m] = m as f32 / SLOW_STRIDE as f32;
        m += 1;
    }
    w
};

/// The slow view of a window: the accelerometer point-sampled every [`SLOW_STRIDE`] grid samples and linearly
/// interpolated back onto the grid. It is what the same motion looks like through a low-rate, event-driven logger,
/// so that the classifier trained on such logs can also judge full-rate input (see `model`).
pub fn slow_view(src: &WindowView, out: &mut WindowView) {
    // The full segments are fixed-size chunks with the same weights (m / 8) each, so each is a few SIMD operations
    // (segment bounds computed per segment kept the compiler from vectorising); the last, shorter segment runs to
    // the window's last sample.
    const FULL: usize = (WINDOW_LEN - 1) / SLOW_STRIDE;
    const TAIL: usize = FULL * SLOW_STRIDE;
    const _: () = assert!(TAIL < WINDOW_LEN - 1, "the last segment must hold samples after its first point");
    for (a, o) in src.accel.iter().zip(out.accel.iter_mut()) {
        let (full, tail) = o.split_at_mut(TAIL);
        for (seg, (o, ends)) in full.chunks_exact_mut(SLOW_STRIDE).zip(a.chunks_exact(SLOW_STRIDE)).enumerate() {
            let (lo, hi) = (ends[0], a[(seg + 1) * SLOW_STRIDE]);
            for (o, &w) in o.iter_mut().zip(&SEGMENT_W) {
                *o = lo + (hi - lo) * w;
            }
        }
        let (lo, hi) = (a[TAIL], a[WINDOW_LEN - 1]);
        for (o, &w) in tail.iter_mut().zip(&SLOW_W[TAIL..]) {
            *o = lo + (hi - lo) * w;
        }
    }
    out.up = src.up;
    out.gravity_fraction = src.gravity_fraction;
    out.gravity_norm = src.gravity_norm;
    out.input_rate_hz = src.input_rate_hz.min(crate::resample::RATE_HZ / SLOW_STRIDE as f32);
    out.start_ns = src.start_ns;
    out.end_ns = src.end_ns;
}

/// The ring buffer.
#[derive(Debug, Clone)]
pub struct WindowRing {
    accel: [[f32; WINDOW_LEN]; 3],
    /// Gravity direction per sample; for the newest `unsettled` samples, still the gravity filter's state (m/s^2).
    up: [[f32; WINDOW_LEN]; 3],
    /// How many of the newest samples hold a filter state not yet turned into a direction, magnitude and
    /// plausibility ([`GravityEstimate::from_state`]). Settled a hop at a time when a window is copied: as a batch
    /// of independent samples the square roots and divisions overlap, where one per grid point sat on the
    /// per-sample path.
    unsettled: usize,
    plausible: [bool; WINDOW_LEN],
    g_norm: [f32; WINDOW_LEN],
    inputs: [u16; WINDOW_LEN],
    t_ns: [i64; WINDOW_LEN],
    head: usize,
    filled: usize,
    since_last: usize,
}

impl Default for WindowRing {
    fn default() -> Self {
        WindowRing {
            accel: [[0.0; WINDOW_LEN]; 3],
            up: [[0.0; WINDOW_LEN]; 3],
            unsettled: 0,
            plausible: [false; WINDOW_LEN],
            g_norm: [0.0; WINDOW_LEN],
            inputs: [0; WINDOW_LEN],
            t_ns: [0; WINDOW_LEN],
            head: 0,
            filled: 0,
            since_last: 0,
        }
    }
}

impl WindowRing {
    /// Appends one fused sample: its acceleration and the gravity filter's state ([`Fusion::update_state`]);
    /// returns true when a window is due (full ring and a hop since the last one).
    ///
    /// [`Fusion::update_state`]: crate::fusion::Fusion::update_state
    #[inline(always)]
    pub fn push(&mut self, t_ns: i64, accel: &Vector3<f32>, gravity: &Vector3<f32>, inputs: u16) -> bool {
        let i = self.head;
        for k in 0..3 {
            self.accel[k][i] = accel[k];
            self.up[k][i] = gravity[k];
        }
        self.unsettled = (self.unsettled + 1).min(WINDOW_LEN);
        self.inputs[i] = inputs;
        self.t_ns[i] = t_ns;
        self.head = if self.head + 1 == WINDOW_LEN { 0 } else { self.head + 1 };
        self.filled = (self.filled + 1).min(WINDOW_LEN);
        self.since_last += 1;
        if self.filled == WINDOW_LEN && self.since_last >= HOP_LEN {
            self.since_last = 0;
            true
        } else {
            false
        }
    }

    /// Turns the unsettled samples' filter states into directions, magnitudes and plausibility.
    fn settle(&mut self) {
        let n = self.unsettled;
        let start = (self.head + WINDOW_LEN - n) % WINDOW_LEN;
        let first_end = (start + n).min(WINDOW_LEN);
        self.settle_range(start, first_end);
        self.settle_range(0, n - (first_end - start));
        self.unsettled = 0;
    }

    fn settle_range(&mut self, lo: usize, hi: usize) {
        let [x, y, z] = &mut self.up;
        for i in lo..hi {
            let est = GravityEstimate::from_state(&Vector3::new(x[i], y[i], z[i]));
            (x[i], y[i], z[i]) = (est.up.x, est.up.y, est.up.z);
            self.plausible[i] = est.plausible;
            self.g_norm[i] = est.norm;
        }
    }

    /// Copies the current window, oldest first, into `out` (settling the newest samples first).
    pub fn copy_window(&mut self, out: &mut WindowView) {
        self.settle();
        let mut n_inputs: u32 = 0;
        let mut n_plausible = 0usize;
        let mut norm_sum = 0.0f32;
        // Oldest first: the ring from `head` to its end, then from its start to `head`.
        let (h, tail) = (self.head, WINDOW_LEN - self.head);
        for k in 0..3 {
            out.accel[k][..tail].copy_from_slice(&self.accel[k][h..]);
            out.accel[k][tail..].copy_from_slice(&self.accel[k][..h]);
            out.up[k][..tail].copy_from_slice(&self.up[k][h..]);
            out.up[k][tail..].copy_from_slice(&self.up[k][..h]);
        }
        for i in 0..WINDOW_LEN {
            n_inputs += u32::from(self.inputs[i]);
            n_plausible += usize::from(self.plausible[i]);
            norm_sum += self.g_norm[i];
        }
        out.gravity_norm = norm_sum / WINDOW_LEN as f32;
        out.start_ns = self.t_ns[self.head % WINDOW_LEN];
        out.end_ns = self.t_ns[(self.head + WINDOW_LEN - 1) % WINDOW_LEN];
        let span_s = (out.end_ns - out.start_ns) as f32 * 1e-9 + crate::resample::PERIOD_NS as f32 * 1e-9;
        out.input_rate_hz = if span_s > 0.0 { n_inputs as f32 / span_s } else { 0.0 };
        out.gravity_fraction = n_plausible as f32 / WINDOW_LEN as f32;
    }

    /// Forgets the stream (after a gap) and zeroizes the samples.
    pub fn wipe(&mut self) -> usize {
        self.accel.zeroize();
        self.up.zeroize();
        self.plausible.zeroize();
        self.g_norm.zeroize();
        self.inputs.zeroize();
        self.t_ns.zeroize();
        self.head = 0;
        self.unsettled = 0;
        self.filled = 0;
        self.since_last = 0;
        std::mem::size_of::<Self>()
    }

    /// True when every stored value is zero.
    pub fn is_zero(&self) -> bool {
        self.accel.iter().flatten().all(|&x| x == 0.0)
            && self.up.iter().flatten().all(|&x| x == 0.0)
            && self.t_ns.iter().all(|&t| t == 0)
            && self.inputs.iter().all(|&n| n == 0)
    }
}

impl Drop for WindowRing {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_every_hop_once_full_in_time_order() {
        let mut r = WindowRing::default();
        let mut due = Vec::new();
        for i in 0..300i64 {
            let g = Vector3::new(0.0, 0.0, 9.8);
            if r.push(i, &Vector3::new(i as f32, 0.0, 0.0), &g, 1) {
                due.push(i);
                let mut w = WindowView::default();
                r.copy_window(&mut w);
                assert_eq!(w.start_ns, i - WINDOW_LEN as i64 + 1);
                assert_eq!(w.end_ns, i);
                assert!(w.accel[0].windows(2).all(|p| p[1] == p[0] + 1.0));
            }
        }
        assert_eq!(due, vec![99, 149, 199, 249, 299]);
        let mut w = WindowView::default();
        r.copy_window(&mut w);
        let mut slow = WindowView::default();
        slow_view(&w, &mut slow);
        // A linear ramp survives point sampling and interpolation exactly.
        for (a, b) in w.accel[0].iter().zip(&slow.accel[0]) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        r.wipe();
        assert!(r.is_zero());
    }

    #[test]
    fn slow_view_is_the_interpolation_between_every_eighth_point_and_the_last() {
        let mut w = WindowView::default();
        for k in 0..3 {
            for i in 0..WINDOW_LEN {
                w.accel[k][i] = ((i * 37 + k * 11) % 23) as f32 * 0.7 - 5.0;
            }
        }
        let mut slow = WindowView::default();
        slow_view(&w, &mut slow);
        let last = WINDOW_LEN - 1;
        for k in 0..3 {
            let a = &w.accel[k];
            for m in 0..WINDOW_LEN {
                // By definition: the points around m are the multiples of 8 before it (at most the last multiple
                // below `last`) and the next one, or `last`.
                let i = (m / SLOW_STRIDE * SLOW_STRIDE).min((last - 1) / SLOW_STRIDE * SLOW_STRIDE);
                let j = (i + SLOW_STRIDE).min(last);
                let want = a[i] + (a[j] - a[i]) * ((m - i) as f32 / (j - i) as f32);
                assert_eq!(slow.accel[k][m].to_bits(), want.to_bits(), "axis {k} index {m}");
            }
            for p in (0..last).step_by(SLOW_STRIDE).chain([last]) {
                assert!((slow.accel[k][p] - a[p]).abs() < 1e-5, "the view passes through its points");
            }
        }
    }

    #[test]
    fn settling_a_hop_at_a_time_equals_estimating_every_sample() {
        use crate::fusion::Fusion;
        use crate::resample::GridSample;
        // A phone turning and shaking, with a gyroscope for a while, then without, then with gravity removed.
        let mut per_sample = Fusion::new();
        let mut deferred = Fusion::new();
        let mut ring = WindowRing::default();
        let mut estimates = Vec::new();
        let mut windows = 0;
        for i in 0..700usize {
            let t = i as f32 * 0.05;
            let g = if i < 500 { 9.81 } else { 0.0 };
            let accel = Vector3::new(g * t.sin() + (7.0 * t).sin(), g * t.cos(), 0.5 * (3.0 * t).cos());
            let grid =
                GridSample { t_ns: i as i64, accel, gyro: Vector3::new(0.0, 0.0, 1.0), has_gyro: i < 300, inputs: 1 };
            estimates.push(per_sample.update(&grid));
            let state = deferred.update_state(&grid);
            if ring.push(i as i64, &accel, &state, 1) {
                windows += 1;
                let mut w = WindowView::default();
                ring.copy_window(&mut w);
                let window = &estimates[i + 1 - WINDOW_LEN..=i];
                for (j, est) in window.iter().enumerate() {
                    let up = [w.up[0][j], w.up[1][j], w.up[2][j]];
                    assert_eq!(up, [est.up.x, est.up.y, est.up.z], "sample {}", i + 1 - WINDOW_LEN + j);
                }
                let plausible = window.iter().filter(|e| e.plausible).count();
                assert_eq!(w.gravity_fraction, plausible as f32 / WINDOW_LEN as f32);
                // Summed in the ring's storage order, as `copy_window` does: sample `s` sits at `s % WINDOW_LEN`.
                let first = i + 1 - WINDOW_LEN;
                let norm_sum = (0..WINDOW_LEN)
                    .map(|slot| first + (slot + WINDOW_LEN - first % WINDOW_LEN) % WINDOW_LEN)
                    .fold(0.0f32, |acc, s| acc + estimates[s].norm);
                assert_eq!(w.gravity_norm, norm_sum / WINDOW_LEN as f32);
            }
        }
        assert_eq!(windows, 13);
    }
}
