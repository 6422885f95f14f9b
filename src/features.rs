//! The named, versioned feature vector of one window.
//!
//! Everything here is orientation-invariant and blind to a constant offset: the window's mean acceleration is
//! removed first (so gravity-removed sources and gravity-included ones meet in the same space), the rest is split
//! into a vertical component (along the window's mean gravity direction, or the principal axis of motion when the
//! input holds no plausible gravity) and a horizontal plane whose power spectrum is summed over two orthogonal
//! axes (invariant to heading). Context features summarise the last [`CONTEXT_WINDOWS`] windows, so that slow
//! evidence (a vehicle's long quiet stretches, braking) reaches a per-window model. The FFT (rustfft: a mixed-radix
//! 4 x 5 x 5 transform built once) runs in place with preallocated scratch: extraction never allocates.

use std::sync::Arc;

use nalgebra::{Matrix3, SymmetricEigen, Vector3};
use rustfft::algorithm::butterflies::{Butterfly4, Butterfly5};
use rustfft::algorithm::MixedRadix;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftDirection};
use zeroize::Zeroize;

use crate::resample::RATE_HZ;
use crate::window::{WindowView, WINDOW_LEN};

/// Version of the feature schema (names, order and definitions). A model records the version it was trained on.
pub const SCHEMA_VERSION: u32 = 2;

/// Number of windows (including the current one) that context features summarise (30 s).
pub const CONTEXT_WINDOWS: usize = 12;

/// The feature names, in vector order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "m_mean",
    "m_std",
    "m_p10",
    "m_p50",
    "m_p90",
    "m_max",
    "log_energy",
    "v_std",
    "h_mean",
    "h_std",
    "v_share",
    "v_skew",
    "v_kurt",
    "v_zcr",
    "log_jerk",
    "log_eig1",
    "eig2_ratio",
    "eig3_ratio",
    "v_dom_freq",
    "v_dom_frac",
    "v_entropy",
    "v_band_0_1",
    "v_band_1_3",
    "v_band_3_5",
    "v_band_5_10",
    "h_dom_freq",
    "h_band_0_1",
    "h_band_1_3",
    "h_band_3_5",
    "h_band_5_10",
    "v_ac_peak",
    "v_ac_lag",
    "m_ac_peak",
    "ctx_energy_mean",
    "ctx_energy_min",
    "ctx_energy_max",
    "ctx_energy_std",
    "ctx_ac_mean",
    "ctx_h_low_mean",
    "ctx_v_high_mean",
    "ctx_dom_freq_std",
];

/// Index of `log_energy` (log10 of the window's total dynamic variance, m^2/s^4).
pub const LOG_ENERGY: usize = 6;

/// Length of the feature vector.
pub const N_FEATURES: usize = 41;

/// A feature vector.
pub type FeatureVector = [f32; N_FEATURES];

const N_BINS: usize = WINDOW_LEN / 2 + 1;
const FREQ_STEP: f32 = RATE_HZ / WINDOW_LEN as f32;

/// Per-window summaries kept for the context features.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Summary {
    energy: f32,
    ac: f32,
    h_low: f32,
    v_high: f32,
    dom: f32,
}

/// Computes feature vectors. Holds the FFT plan, scratch buffers and the context ring (derived signal data,
/// zeroized by [`FeatureExtractor::wipe`]).
pub struct FeatureExtractor {
    fft: Arc<dyn Fft<f32>>,
    fft_buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    context: [Summary; CONTEXT_WINDOWS],
    context_len: usize,
    context_head: usize,
}

impl std::fmt::Debug for FeatureExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureExtractor").field("context_len", &self.context_len).finish_non_exhaustive()
    }
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureExtractor {
    /// Builds the FFT and allocates every buffer (the only allocation feature extraction ever makes).
    pub fn new() -> Self {
        let dir = FftDirection::Forward;
        let n25: Arc<dyn Fft<f32>> =
            Arc::new(MixedRadix::new(Arc::new(Butterfly5::new(dir)), Arc::new(Butterfly5::new(dir))));
        let fft: Arc<dyn Fft<f32>> = Arc::new(MixedRadix::new(Arc::new(Butterfly4::new(dir)), n25));
        debug_assert_eq!(fft.len(), WINDOW_LEN);
        let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        FeatureExtractor {
            fft,
            fft_buf: vec![Complex::new(0.0, 0.0); WINDOW_LEN],
            scratch,
            context: [Summary::default(); CONTEXT_WINDOWS],
            context_len: 0,
            context_head: 0,
        }
    }

    /// Forgets the context (after a gap in the stream) and zeroizes every buffer; returns bytes wiped.
    pub fn wipe(&mut self) -> usize {
        for c in self.fft_buf.iter_mut().chain(self.scratch.iter_mut()) {
            *c = Complex::new(0.0, 0.0);
        }
        self.context = [Summary::default(); CONTEXT_WINDOWS];
        self.context_len = 0;
        self.context_head = 0;
        (self.fft_buf.len() + self.scratch.len()) * 8 + std::mem::size_of::<[Summary; CONTEXT_WINDOWS]>()
    }

    /// Bytes of signal-derived state this extractor holds.
    pub fn buffer_bytes(&self) -> usize {
        (self.fft_buf.capacity() + self.scratch.capacity()) * 8 + std::mem::size_of::<[Summary; CONTEXT_WINDOWS]>()
    }

    /// True when no signal-derived value is held.
    pub fn is_zero(&self) -> bool {
        self.fft_buf.iter().chain(&self.scratch).all(|c| c.re == 0.0 && c.im == 0.0)
            && self.context.iter().all(|s| *s == Summary::default())
    }

    /// Power spectrum of `x` into `power` (bins 0..=N/2).
    fn power(&mut self, x: &[f32; WINDOW_LEN], power: &mut [f32; N_BINS]) {
        for (c, &v) in self.fft_buf.iter_mut().zip(x) {
            *c = Complex::new(v, 0.0);
        }
        self.fft.process_with_scratch(&mut self.fft_buf, &mut self.scratch);
        // A real signal's spectrum is symmetric: bins 0..=N/2 hold all of it.
        for (p, c) in power.iter_mut().zip(&self.fft_buf) {
            *p = c.norm_sqr();
        }
    }

    /// Computes the feature vector of `w` (and advances the context).
    pub fn extract(&mut self, w: &WindowView, out: &mut FeatureVector) {
        let n = WINDOW_LEN as f32;
        // Centre each axis: removes gravity (or whatever constant a source left in).
        let mut c = [[0.0f32; WINDOW_LEN]; 3];
        let mut mean_up = Vector3::zeros();
        for k in 0..3 {
            let mean = w.accel[k].iter().sum::<f32>() / n;
            for (ci, &a) in c[k].iter_mut().zip(&w.accel[k]) {
                *ci = a - mean;
            }
            mean_up[k] = w.up[k].iter().sum::<f32>() / n;
        }
        // Covariance and its eigen-decomposition (principal axes of motion).
        let mut cov = Matrix3::zeros();
        for i in 0..WINDOW_LEN {
            let v = Vector3::new(c[0][i], c[1][i], c[2][i]);
            cov += v * v.transpose();
        }
        cov /= n;
        let eig = SymmetricEigen::new(cov);
        let mut order = [0usize, 1, 2];
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let l1 = eig.eigenvalues[order[0]].max(0.0);
        let l2 = eig.eigenvalues[order[1]].max(0.0);
        let l3 = eig.eigenvalues[order[2]].max(0.0);
        // Vertical axis: gravity when the input holds it, else the principal axis of motion.
        let up = if w.gravity_fraction >= 0.5 && mean_up.norm() > 0.5 {
            mean_up.normalize()
        } else {
            let p = eig.eigenvectors.column(order[0]).into_owned();
            if p.norm() > 1e-6 {
                p.normalize()
            } else {
                Vector3::z()
            }
        };
        // An orthonormal horizontal basis.
        let helper = if up.x.abs() < 0.9 { Vector3::x() } else { Vector3::y() };
        let e1 = up.cross(&helper).normalize();
        let e2 = up.cross(&e1);

        let mut m = [0.0f32; WINDOW_LEN];
        let mut v = [0.0f32; WINDOW_LEN];
        let mut hx = [0.0f32; WINDOW_LEN];
        let mut hy = [0.0f32; WINDOW_LEN];
        let mut h = [0.0f32; WINDOW_LEN];
        let mut jerk = 0.0f32;
        for i in 0..WINDOW_LEN {
            let ci = Vector3::new(c[0][i], c[1][i], c[2][i]);
            m[i] = ci.norm();
            v[i] = ci.dot(&up);
            hx[i] = ci.dot(&e1);
            hy[i] = ci.dot(&e2);
            h[i] = (hx[i] * hx[i] + hy[i] * hy[i]).sqrt();
            if i > 0 {
                let d = Vector3::new(c[0][i] - c[0][i - 1], c[1][i] - c[1][i - 1], c[2][i] - c[2][i - 1]);
                jerk += d.norm();
            }
        }
        jerk = jerk * RATE_HZ / (n - 1.0);

        let (m_mean, m_std) = mean_std(&m);
        let (_, v_std) = mean_std(&v);
        let (h_mean, h_std) = mean_std(&h);
        let energy = (l1 + l2 + l3).max(0.0);
        let v_pow = v.iter().map(|x| x * x).sum::<f32>() / n;
        let h_pow = (hx.iter().map(|x| x * x).sum::<f32>() + hy.iter().map(|x| x * x).sum::<f32>()) / n;
        let v_share = v_pow / (v_pow + h_pow + 1e-9);
        let (v_skew, v_kurt) = skew_kurt(&v, v_std);
        let mut zc = 0usize;
        for i in 1..WINDOW_LEN {
            if (v[i - 1] < 0.0) != (v[i] < 0.0) {
                zc += 1;
            }
        }
        let v_zcr = zc as f32 * RATE_HZ / (n - 1.0);

        let mut sorted = m;
        let p10 = select(&mut sorted, WINDOW_LEN / 10);
        let p50 = select(&mut sorted, WINDOW_LEN / 2);
        let p90 = select(&mut sorted, WINDOW_LEN * 9 / 10);
        let m_max = m.iter().copied().fold(0.0f32, f32::max);

        // Spectra.
        let mut pv = [0.0f32; N_BINS];
        let mut ph = [0.0f32; N_BINS];
        let mut tmp = [0.0f32; N_BINS];
        self.power(&v, &mut pv);
        self.power(&hx, &mut ph);
        self.power(&hy, &mut tmp);
        for (a, b) in ph.iter_mut().zip(&tmp) {
            *a += *b;
        }
        let vs = spectrum_summary(&pv);
        let hs = spectrum_summary(&ph);

        let (v_ac_peak, v_ac_lag) = autocorr_peak(&v);
        let mut mc = m;
        for x in mc.iter_mut() {
            *x -= m_mean;
        }
        let (m_ac_peak, _) = autocorr_peak(&mc);

        let log_energy = log10(energy, 1e-4);
        // Context: this window plus the previous ones.
        let summary =
            Summary { energy: log_energy, ac: v_ac_peak, h_low: hs.bands[0], v_high: vs.bands[3], dom: vs.dom_freq };
        self.context[self.context_head] = summary;
        self.context_head = (self.context_head + 1) % CONTEXT_WINDOWS;
        self.context_len = (self.context_len + 1).min(CONTEXT_WINDOWS);
        let ctx = &self.context[..self.context_len];
        let k = self.context_len as f32;
        let e_mean = ctx.iter().map(|s| s.energy).sum::<f32>() / k;
        let e_min = ctx.iter().map(|s| s.energy).fold(f32::INFINITY, f32::min);
        let e_max = ctx.iter().map(|s| s.energy).fold(f32::NEG_INFINITY, f32::max);
        let e_std = (ctx.iter().map(|s| (s.energy - e_mean).powi(2)).sum::<f32>() / k).sqrt();
        let ac_mean = ctx.iter().map(|s| s.ac).sum::<f32>() / k;
        let hl_mean = ctx.iter().map(|s| s.h_low).sum::<f32>() / k;
        let vh_mean = ctx.iter().map(|s| s.v_high).sum::<f32>() / k;
        let d_mean = ctx.iter().map(|s| s.dom).sum::<f32>() / k;
        let d_std = (ctx.iter().map(|s| (s.dom - d_mean).powi(2)).sum::<f32>() / k).sqrt();

        *out = [
            m_mean,
            m_std,
            p10,
            p50,
            p90,
            m_max,
            log_energy,
            v_std,
            h_mean,
            h_std,
            v_share,
            v_skew,
            v_kurt,
            v_zcr,
            log10(jerk, 1e-3),
            log10(l1.sqrt(), 1e-3),
            if l1 > 1e-9 { l2 / l1 } else { 0.0 },
            if l1 > 1e-9 { l3 / l1 } else { 0.0 },
            vs.dom_freq,
            vs.dom_frac,
            vs.entropy,
            vs.bands[0],
            vs.bands[1],
            vs.bands[2],
            vs.bands[3],
            hs.dom_freq,
            hs.bands[0],
            hs.bands[1],
            hs.bands[2],
            hs.bands[3],
            v_ac_peak,
            v_ac_lag,
            m_ac_peak,
            e_mean,
            e_min,
            e_max,
            e_std,
            ac_mean,
            hl_mean,
            vh_mean,
            d_std,
        ];
        // A non-finite feature can only come from non-finite input, which validation rejects; keep the contract
        // "features are finite" even so.
        for x in out.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
        c.zeroize();
        m.zeroize();
        v.zeroize();
        hx.zeroize();
        hy.zeroize();
        h.zeroize();
        sorted.zeroize();
        mc.zeroize();
    }
}

fn log10(x: f32, floor: f32) -> f32 {
    (x.max(0.0) + floor).log10()
}

fn mean_std(x: &[f32; WINDOW_LEN]) -> (f32, f32) {
    let n = WINDOW_LEN as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, var.max(0.0).sqrt())
}

fn skew_kurt(x: &[f32; WINDOW_LEN], std: f32) -> (f32, f32) {
    if std < 1e-4 {
        return (0.0, 0.0);
    }
    let n = WINDOW_LEN as f32;
    let mean = x.iter().sum::<f32>() / n;
    let (mut s3, mut s4) = (0.0f32, 0.0f32);
    for &v in x {
        let z = (v - mean) / std;
        s3 += z * z * z;
        s4 += z * z * z * z;
    }
    (s3 / n, s4 / n - 3.0)
}

fn select(x: &mut [f32; WINDOW_LEN], k: usize) -> f32 {
    let (_, v, _) = x.select_nth_unstable_by(k, f32::total_cmp);
    *v
}

struct SpectrumSummary {
    dom_freq: f32,
    dom_frac: f32,
    entropy: f32,
    bands: [f32; 4],
}

/// Band edges in Hz: [0.2, 1), [1, 3), [3, 5), [5, 10].
const BAND_EDGES: [f32; 5] = [0.2, 1.0, 3.0, 5.0, 10.01];

fn spectrum_summary(p: &[f32; N_BINS]) -> SpectrumSummary {
    // Bin 0 (the mean) is zero after centring; start at 0.2 Hz (bin 1).
    let total: f32 = p[1..].iter().sum();
    if total <= 1e-12 {
        return SpectrumSummary { dom_freq: 0.0, dom_frac: 0.0, entropy: 0.0, bands: [0.0; 4] };
    }
    let mut best = 1;
    let mut entropy = 0.0f32;
    let mut bands = [0.0f32; 4];
    for (i, &pi) in p.iter().enumerate().skip(1) {
        if pi > p[best] {
            best = i;
        }
        let q = pi / total;
        if q > 0.0 {
            entropy -= q * q.ln();
        }
        let f = i as f32 * FREQ_STEP;
        for b in 0..4 {
            if f >= BAND_EDGES[b] && f < BAND_EDGES[b + 1] {
                bands[b] += q;
            }
        }
    }
    SpectrumSummary {
        dom_freq: best as f32 * FREQ_STEP,
        dom_frac: p[best] / total,
        entropy: entropy / ((N_BINS - 1) as f32).ln(),
        bands,
    }
}

/// Peak of the normalised autocorrelation for lags 0.25-1.5 s (gait periods), and its lag in seconds.
fn autocorr_peak(x: &[f32; WINDOW_LEN]) -> (f32, f32) {
    let r0: f32 = x.iter().map(|v| v * v).sum();
    if r0 <= 1e-9 {
        return (0.0, 0.0);
    }
    let lo = (0.25 * RATE_HZ) as usize;
    let hi = (1.5 * RATE_HZ) as usize;
    let mut best = (f32::NEG_INFINITY, 0usize);
    for lag in lo..=hi {
        let r: f32 = x[..WINDOW_LEN - lag].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum();
        // Unbiased normalisation so longer lags are not penalised.
        let r = r / r0 * WINDOW_LEN as f32 / (WINDOW_LEN - lag) as f32;
        if r > best.0 {
            best = (r, lag);
        }
    }
    (best.0.clamp(-1.0, 1.0), best.1 as f32 / RATE_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    fn window_from(f: impl Fn(f32) -> Vector3<f32>, up: Vector3<f32>) -> WindowView {
        let mut w = WindowView::default();
        for i in 0..WINDOW_LEN {
            let a = f(i as f32 / RATE_HZ);
            for k in 0..3 {
                w.accel[k][i] = a[k];
                w.up[k][i] = up[k];
            }
        }
        w.gravity_fraction = 1.0;
        w.input_rate_hz = RATE_HZ;
        w
    }

    fn idx(name: &str) -> usize {
        FEATURE_NAMES.iter().position(|n| *n == name).unwrap()
    }

    /// Naive DFT power, the oracle for the realfft path.
    fn naive_power(x: &[f32; WINDOW_LEN]) -> Vec<f32> {
        (0..N_BINS)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (n, &v) in x.iter().enumerate() {
                    let ang = -2.0 * std::f64::consts::PI * (k * n) as f64 / WINDOW_LEN as f64;
                    re += v as f64 * ang.cos();
                    im += v as f64 * ang.sin();
                }
                (re * re + im * im) as f32
            })
            .collect()
    }

    #[test]
    fn fft_power_matches_naive_dft() {
        let mut fx = FeatureExtractor::new();
        let mut x = [0.0f32; WINDOW_LEN];
        let mut seed = 12345u32;
        for v in x.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *v = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        let mut p = [0.0f32; N_BINS];
        fx.power(&x, &mut p);
        for (a, b) in p.iter().zip(naive_power(&x)) {
            assert!((a - b).abs() <= 1e-3 * b.max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn two_hertz_sine_gives_two_hertz_dominant_frequency() {
        let up = Vector3::z();
        let w = window_from(|t| Vector3::new(0.0, 0.0, 9.81 + 3.0 * (2.0 * std::f32::consts::PI * 2.0 * t).sin()), up);
        let mut fx = FeatureExtractor::new();
        let mut f = [0.0; N_FEATURES];
        fx.extract(&w, &mut f);
        assert!((f[idx("v_dom_freq")] - 2.0).abs() < 1e-6, "{}", f[idx("v_dom_freq")]);
        assert!(f[idx("v_dom_frac")] > 0.9);
        assert!(f[idx("v_share")] > 0.99, "all motion is vertical");
        assert!((f[idx("v_ac_lag")] - 0.5).abs() < 1e-6, "period 0.5 s");
        assert!(f[idx("v_ac_peak")] > 0.9);
    }

    #[test]
    fn features_are_invariant_to_rotation_and_offset() {
        let motion = |t: f32| {
            Vector3::new(
                0.7 * (2.0 * std::f32::consts::PI * 1.3 * t).sin(),
                0.2 * (2.0 * std::f32::consts::PI * 0.4 * t).cos(),
                9.81 + 2.0 * (2.0 * std::f32::consts::PI * 1.9 * t).sin(),
            )
        };
        let mut f0 = [0.0; N_FEATURES];
        FeatureExtractor::new().extract(&window_from(motion, Vector3::z()), &mut f0);
        let rot = Rotation3::from_euler_angles(0.4, -1.1, 2.3);
        let rotated = window_from(|t| rot * motion(t), rot * Vector3::z());
        let mut f1 = [0.0; N_FEATURES];
        FeatureExtractor::new().extract(&rotated, &mut f1);
        let shifted = window_from(|t| motion(t) + Vector3::new(3.0, -2.0, 1.0), Vector3::z());
        let mut f2 = [0.0; N_FEATURES];
        FeatureExtractor::new().extract(&shifted, &mut f2);
        for i in 0..N_FEATURES {
            let tol = 1e-3 * f0[i].abs().max(1.0);
            assert!((f0[i] - f1[i]).abs() < tol, "{} rotated: {} vs {}", FEATURE_NAMES[i], f0[i], f1[i]);
            assert!((f0[i] - f2[i]).abs() < tol, "{} shifted: {} vs {}", FEATURE_NAMES[i], f0[i], f2[i]);
        }
    }

    #[test]
    fn silence_gives_finite_zero_like_features() {
        let w = window_from(|_| Vector3::new(0.0, 0.0, 9.81), Vector3::z());
        let mut f = [1.0; N_FEATURES];
        let mut fx = FeatureExtractor::new();
        fx.extract(&w, &mut f);
        assert!(f.iter().all(|x| x.is_finite()));
        assert_eq!(f[idx("m_std")], 0.0);
        assert!(!fx.is_zero());
        fx.wipe();
        assert!(fx.is_zero());
    }
}
