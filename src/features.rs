//! The named, versioned feature vector of one window.
//!
//! Everything here is orientation-invariant and blind to a constant offset: the window's mean acceleration is
//! removed first (so gravity-removed sources and gravity-included ones meet in the same space), the rest is split
//! into a vertical component (along the window's mean gravity direction, or the principal axis of motion when the
//! input holds no plausible gravity) and a horizontal plane whose power spectrum is summed over two orthogonal
//! axes (invariant to heading). Context features summarise the last [`CONTEXT_WINDOWS`] windows, so that slow
//! evidence (a vehicle's long quiet stretches, braking) reaches a per-window model.
//!
//! Cost matters here (two extractions per window on the live path), so: one complex 100-point transform
//! ([`crate::dft100`]) carries two real signals at once; the autocorrelation comes from the power spectrum
//! (Wiener-Khinchin, hence circular) instead of a second pass per lag; sums use independent accumulators so they
//! vectorise; scratch lives in the extractor. Extraction never allocates.

use nalgebra::{Matrix3, SymmetricEigen, Vector3};
use zeroize::Zeroize;

use crate::dft100::{Bins, Dft100};
use crate::resample::RATE_HZ;
use crate::window::{WindowView, WINDOW_LEN};

/// Version of the feature schema (names, order and definitions). A model records the version it was trained on.
/// 4: without gravity, `v_skew` is the magnitude of the skewness along the principal axis (which has no sign).
pub const SCHEMA_VERSION: u32 = 4;

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

/// Autocorrelation lags searched for a gait period: 0.25-1.8 s (32 lags: four vectors of eight).
const AC_LAG_LO: usize = (0.25 * RATE_HZ) as usize;
const AC_LAGS: usize = 32;
#[cfg(test)]
const AC_LAG_HI: usize = AC_LAG_LO + AC_LAGS - 1;

/// `table[k][j / 8][j % 8]`: weight of power bin `k` in the circular autocorrelation at lag `AC_LAG_LO + j`
/// (`w_k cos(2 pi k lag / N) / N`, `w_k` = 2 for the bins that stand for a conjugate pair).
type AcTable = [[[f32; 8]; AC_LAGS / 8]; N_BINS];

/// Per-window summaries kept for the context features.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Summary {
    energy: f32,
    ac: f32,
    h_low: f32,
    v_high: f32,
    dom: f32,
}

/// Rows of [`Work::signals`], in order: centred acceleration x, y, z; its magnitude; the vertical component; the two
/// horizontal components (an orthonormal basis of the horizontal plane); the horizontal magnitude; the length of
/// each step of the centred acceleration (jerk); the order-statistics picks.
const WORK_ROWS: usize = 10;

/// Signal-derived scratch of one extraction. It lives in the extractor (allocated once, wiped with it) rather than
/// on the stack, so a purge reaches it and extraction spends no time zeroizing stack copies.
#[derive(Clone)]
struct Work {
    /// Per-sample signals ([`WORK_ROWS`] rows).
    signals: [[f32; WINDOW_LEN]; WORK_ROWS],
    /// Power spectra (bins 0..=N/2) of the vertical component, the centred magnitude and the horizontal plane.
    spectra: [[f32; N_BINS]; 3],
    /// Order-statistics scratch: each sample's bucket.
    bucket: [u8; WINDOW_LEN],
}

impl Default for Work {
    fn default() -> Self {
        Work { signals: [[0.0; WINDOW_LEN]; WORK_ROWS], spectra: [[0.0; N_BINS]; 3], bucket: [0; WINDOW_LEN] }
    }
}

impl Work {
    fn zeroize(&mut self) {
        self.signals.zeroize();
        self.spectra.zeroize();
        self.bucket.zeroize();
    }

    fn is_zero(&self) -> bool {
        self.signals.iter().flatten().chain(self.spectra.iter().flatten()).all(|&x| x == 0.0)
            && self.bucket.iter().all(|&b| b == 0)
    }
}
/// Computes feature vectors. Holds the FFT plan, the autocorrelation table, scratch buffers and the context ring
/// (signal-derived data, zeroized by [`FeatureExtractor::wipe`]).
pub struct FeatureExtractor {
    fft: Dft100,
    fft_buf: Box<Bins>,
    /// The autocorrelation weights (a constant).
    ac_table: Box<AcTable>,
    work: Box<Work>,
    context: [Summary; CONTEXT_WINDOWS],
    context_len: usize,
    context_head: usize,
    /// Split every window along its principal axis of motion, whether or not it holds gravity (see
    /// [`FeatureExtractor::gravity_blind`]).
    gravity_blind: bool,
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

/// Weight of power bin `k` when summing a real signal's spectrum over all N bins from bins 0..=N/2.
fn bin_weight(k: usize) -> f32 {
    if k == 0 || 2 * k == WINDOW_LEN {
        1.0
    } else {
        2.0
    }
}

impl FeatureExtractor {
    /// Builds the FFT and allocates every buffer (the only allocation feature extraction ever makes).
    pub fn new() -> Self {
        let mut ac_table: Box<AcTable> = Box::new([[[0.0f32; 8]; AC_LAGS / 8]; N_BINS]);
        for (k, row) in ac_table.iter_mut().enumerate() {
            for (j, t) in row.as_flattened_mut().iter_mut().enumerate() {
                let lag = (AC_LAG_LO + j) as f64;
                let ang = 2.0 * std::f64::consts::PI * k as f64 * lag / WINDOW_LEN as f64;
                *t = (f64::from(bin_weight(k)) * ang.cos() / WINDOW_LEN as f64) as f32;
            }
        }
        FeatureExtractor {
            fft: Dft100::new(),
            fft_buf: Box::default(),
            ac_table,
            work: Box::default(),
            context: [Summary::default(); CONTEXT_WINDOWS],
            context_len: 0,
            context_head: 0,
            gravity_blind: false,
        }
    }

    /// An extractor that ignores gravity's direction: every window is split along its principal axis of motion, as
    /// windows without gravity always are. Training uses it to show the model's gravity-free expert what every
    /// recording looks like to a source that removed gravity (see `Model::predict` and
    /// `offline::featurize_for_training`); a live pipeline never does.
    pub fn gravity_blind() -> Self {
        FeatureExtractor { gravity_blind: true, ..FeatureExtractor::new() }
    }

    /// Forgets the context (after a gap in the stream) and zeroizes every buffer; returns bytes wiped.
    pub fn wipe(&mut self) -> usize {
        self.fft_buf.zeroize();
        self.work.zeroize();
        self.context = [Summary::default(); CONTEXT_WINDOWS];
        self.context_len = 0;
        self.context_head = 0;
        std::mem::size_of::<Bins>() + std::mem::size_of::<Work>() + std::mem::size_of::<[Summary; CONTEXT_WINDOWS]>()
    }

    /// Bytes this extractor holds (scratch, context and the constant autocorrelation table).
    pub fn buffer_bytes(&self) -> usize {
        std::mem::size_of::<Bins>()
            + std::mem::size_of::<Dft100>()
            + std::mem::size_of::<Work>()
            + std::mem::size_of::<AcTable>()
            + std::mem::size_of::<[Summary; CONTEXT_WINDOWS]>()
    }

    /// True when no signal-derived value is held.
    pub fn is_zero(&self) -> bool {
        self.fft_buf.is_zero() && self.work.is_zero() && self.context.iter().all(|s| *s == Summary::default())
    }

    /// Computes the feature vector of `w` (and advances the context).
    pub fn extract(&mut self, w: &WindowView, out: &mut FeatureVector) {
        let n = WINDOW_LEN as f32;
        let wk = &mut *self.work;
        // Centre each axis: removes gravity (or whatever constant a source left in).
        let mut mean_up = Vector3::zeros();
        for k in 0..3 {
            let mean = sum(&w.accel[k]) / n;
            for (ci, &a) in wk.signals[k].iter_mut().zip(&w.accel[k]) {
                *ci = a - mean;
            }
            mean_up[k] = sum(&w.up[k]) / n;
        }
        let [cx, cy, cz, m, v, hx, hy, h, step, pick] = &mut wk.signals;
        let [pv, pm, ph] = &mut wk.spectra;
        let (cx, cy, cz) = (&*cx, &*cy, &*cz);
        // Covariance and its eigen-decomposition (principal axes of motion).
        let (sxx, syy, szz) = (dot(cx, cx), dot(cy, cy), dot(cz, cz));
        let (sxy, sxz, syz) = (dot(cx, cy), dot(cx, cz), dot(cy, cz));
        let cov = Matrix3::new(sxx, sxy, sxz, sxy, syy, syz, sxz, syz, szz) / n;
        let [l1, l2, l3] = sym3_eigenvalues(&cov).map(|l| l.max(0.0));
        // Vertical axis: gravity when the input holds it, else the principal axis of motion (the eigenvector, only
        // computed on this rarer path: an iterative decomposition costs several times the closed form above).
        let up_is_gravity = !self.gravity_blind && w.holds_gravity() && mean_up.norm() > 0.5;
        let up = if up_is_gravity {
            mean_up.normalize()
        } else {
            let eig = SymmetricEigen::new(cov);
            let mut order = [0usize, 1, 2];
            order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
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

        // Projections, written as plain array loops so they vectorise.
        for i in 0..WINDOW_LEN {
            let (x, y, z) = (cx[i], cy[i], cz[i]);
            m[i] = (x * x + y * y + z * z).sqrt();
            v[i] = x * up.x + y * up.y + z * up.z;
            let a = x * e1.x + y * e1.y + z * e1.z;
            let b = x * e2.x + y * e2.y + z * e2.z;
            hx[i] = a;
            hy[i] = b;
            h[i] = (a * a + b * b).sqrt();
        }
        // Jerk: step lengths into a buffer first (vectorises), then one vectorised sum.
        step[0] = 0.0;
        for i in 1..WINDOW_LEN {
            let (dx, dy, dz) = (cx[i] - cx[i - 1], cy[i] - cy[i - 1], cz[i] - cz[i - 1]);
            step[i] = (dx * dx + dy * dy + dz * dz).sqrt();
        }
        let jerk = sum(step) * RATE_HZ / (n - 1.0);

        let (m_mean, m_std) = mean_std(m);
        let (v_mean, v_std) = mean_std(v);
        let (h_mean, h_std) = mean_std(h);
        let energy = (l1 + l2 + l3).max(0.0);
        let v_pow = dot(v, v) / n;
        let h_pow = (dot(hx, hx) + dot(hy, hy)) / n;
        let v_share = v_pow / (v_pow + h_pow + 1e-9);
        let (v_skew, v_kurt) = skew_kurt(v, v_mean, v_std);
        // The principal axis has no sign (the eigen-solver picks one, and rotating the input can flip it), so the
        // skewness along it is only defined up to sign: its magnitude is the rotation-invariant part. Along gravity
        // the sign means something (a step's impact points up), so it is kept.
        let v_skew = if up_is_gravity { v_skew } else { v_skew.abs() };
        let mut zc = 0u32;
        for i in 1..WINDOW_LEN {
            zc += u32::from((v[i - 1] < 0.0) != (v[i] < 0.0));
        }
        let v_zcr = zc as f32 * RATE_HZ / (n - 1.0);

        let [p10, p50, p90] = percentiles(m, &mut wk.bucket, pick, [10, 50, 90]);
        let m_max = max_non_negative(m);

        // Spectra: the vertical component and the centred magnitude share one FFT, the horizontal plane another.
        for x in m.iter_mut() {
            *x -= m_mean;
        }
        power_pair(&self.fft, &mut self.fft_buf, v, m, pv, pm);
        power_plane(&self.fft, &mut self.fft_buf, hx, hy, ph);
        let vs = spectrum_summary(pv);
        let hs = spectrum_summary(ph);
        // Lag-0 autocorrelations (energies). n * m_std^2 would equal the second only up to rounding, and the
        // shipped model was trained on this exact value.
        let (v_ac_peak, v_ac_lag) = autocorr_peak(&self.ac_table, pv, v_pow * n);
        let (m_ac_peak, _) = autocorr_peak(&self.ac_table, pm, dot(m, m));

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
    }
}

/// Power spectra (bins 0..=N/2) of two real signals with one complex FFT: `z = a + i b`, then
/// `A[k] = (Z[k] + conj Z[N-k]) / 2` and `B[k] = (Z[k] - conj Z[N-k]) / 2i`.
fn power_pair(
    fft: &Dft100,
    z: &mut Bins,
    a: &[f32; WINDOW_LEN],
    b: &[f32; WINDOW_LEN],
    pa: &mut [f32; N_BINS],
    pb: &mut [f32; N_BINS],
) {
    fft.forward(a, b, z);
    for k in 0..N_BINS {
        let zk = z.get(k);
        let zn = z.get(WINDOW_LEN - k).conj();
        pa[k] = (zk + zn).norm_sqr() * 0.25;
        pb[k] = (zk - zn).norm_sqr() * 0.25;
    }
}

/// Summed power spectrum `|A|^2 + |B|^2` of two real signals (a plane's two axes) with one complex FFT:
/// `|Z[k]|^2 + |Z[N-k]|^2 = 2 (|A[k]|^2 + |B[k]|^2)` for `z = a + i b`.
fn power_plane(fft: &Dft100, z: &mut Bins, a: &[f32; WINDOW_LEN], b: &[f32; WINDOW_LEN], p: &mut [f32; N_BINS]) {
    fft.forward(a, b, z);
    for (k, pk) in p.iter_mut().enumerate() {
        *pk = (z.get(k).norm_sqr() + z.get(WINDOW_LEN - k).norm_sqr()) * 0.5;
    }
}

/// Peak of the normalised circular autocorrelation over lags 0.25-1.8 s (gait periods) and its lag in seconds,
/// from the signal's power spectrum (Wiener-Khinchin: no pass over the samples per lag). Of peaks equal within 1e-4
/// (a period's multiples), the shortest lag wins.
/// `r0` is the signal's energy (sum of squares: the lag-0 autocorrelation).
fn autocorr_peak(table: &AcTable, p: &[f32; N_BINS], r0: f32) -> (f32, f32) {
    if r0 <= 1e-9 {
        return (0.0, 0.0);
    }
    // Eight lags per accumulator row, so the inner loop is one vector multiply-add.
    let mut r = [[0.0f32; 8]; AC_LAGS / 8];
    for (row, &pk) in table.iter().zip(p) {
        for (acc, t) in r.iter_mut().zip(row) {
            for l in 0..8 {
                acc[l] += pk * t[l];
            }
        }
    }
    // Compared unnormalised (r0 > 0): one division in all instead of one per lag.
    let tol = 1e-4 * r0;
    let mut best = (f32::NEG_INFINITY, 0usize);
    for (j, &rj) in r.as_flattened().iter().enumerate() {
        if rj > best.0 + tol {
            best = (rj, j);
        }
    }
    ((best.0 / r0).clamp(-1.0, 1.0), (AC_LAG_LO + best.1) as f32 / RATE_HZ)
}

fn log10(x: f32, floor: f32) -> f32 {
    (x.max(0.0) + floor).log10()
}

/// Sum with eight independent accumulators: vectorises (a plain `iter().sum()` is one serial chain, since float
/// addition may not be reordered by the compiler).
fn sum(x: &[f32; WINDOW_LEN]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// The largest value of a window of magnitudes (never NaN, never negative), 0 for an all-zero window. Eight
/// running maxima with a plain comparison vectorise; `f32::max` must treat NaN specially and stays one serial
/// chain. Exact either way: a maximum does not depend on the order it is taken in.
fn max_non_negative(x: &[f32; WINDOW_LEN]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a = if v > *a { v } else { *a };
        }
    }
    acc.iter().chain(chunks.remainder()).fold(0.0f32, |a, &v| if v > a { v } else { a })
}

/// Dot product with eight independent accumulators (see [`sum`]).
fn dot(x: &[f32; WINDOW_LEN], y: &[f32; WINDOW_LEN]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut cx = x.chunks_exact(8);
    let mut cy = y.chunks_exact(8);
    for (a8, b8) in (&mut cx).zip(&mut cy) {
        for ((a, &p), &q) in acc.iter_mut().zip(a8).zip(b8) {
            *a += p * q;
        }
    }
    acc.iter().sum::<f32>() + cx.remainder().iter().zip(cy.remainder()).map(|(p, q)| p * q).sum::<f32>()
}

fn mean_std(x: &[f32; WINDOW_LEN]) -> (f32, f32) {
    let n = WINDOW_LEN as f32;
    let mean = sum(x) / n;
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += (v - mean) * (v - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum::<f32>()) / n;
    (mean, var.max(0.0).sqrt())
}

// `skew_kurt` walks the window in chunks of four.
const _: () = assert!(WINDOW_LEN % 4 == 0);

fn skew_kurt(x: &[f32; WINDOW_LEN], mean: f32, std: f32) -> (f32, f32) {
    if std < 1e-4 {
        return (0.0, 0.0);
    }
    let n = WINDOW_LEN as f32;
    let inv = 1.0 / std;
    let (mut s3, mut s4) = ([0.0f32; 4], [0.0f32; 4]);
    for ch in x.chunks_exact(4) {
        for j in 0..4 {
            let z = (ch[j] - mean) * inv;
            let z2 = z * z;
            s3[j] += z2 * z;
            s4[j] += z2 * z2;
        }
    }
    (s3.iter().sum::<f32>() / n, s4.iter().sum::<f32>() / n - 3.0)
}

struct SpectrumSummary {
    dom_freq: f32,
    dom_frac: f32,
    entropy: f32,
    bands: [f32; 4],
}

/// Bands as bin ranges (bin `i` is `i * 0.2` Hz): [0.2, 1), [1, 3), [3, 5), [5, 10] Hz.
const BANDS: [(usize, usize); 4] = [(1, 5), (5, 15), (15, 25), (25, N_BINS)];

/// Eigenvalues of a symmetric 3x3 matrix, largest first, in closed form (the trigonometric solution of the
/// characteristic cubic, in f64).
fn sym3_eigenvalues(m: &Matrix3<f32>) -> [f32; 3] {
    let a = |i: usize, j: usize| f64::from(m[(i, j)]);
    let p1 = a(0, 1).powi(2) + a(0, 2).powi(2) + a(1, 2).powi(2);
    let q = (a(0, 0) + a(1, 1) + a(2, 2)) / 3.0;
    let p2 = (a(0, 0) - q).powi(2) + (a(1, 1) - q).powi(2) + (a(2, 2) - q).powi(2) + 2.0 * p1;
    if p2 <= f64::MIN_POSITIVE {
        // A multiple of the identity.
        return [q as f32; 3];
    }
    let p = (p2 / 6.0).sqrt();
    let b = |i: usize, j: usize| (a(i, j) - if i == j { q } else { 0.0 }) / p;
    let det = b(0, 0) * (b(1, 1) * b(2, 2) - b(1, 2) * b(2, 1)) - b(0, 1) * (b(1, 0) * b(2, 2) - b(1, 2) * b(2, 0))
        + b(0, 2) * (b(1, 0) * b(2, 1) - b(1, 1) * b(2, 0));
    let phi = (det / 2.0).clamp(-1.0, 1.0).acos() / 3.0;
    let l1 = q + 2.0 * p * phi.cos();
    let l3 = q + 2.0 * p * (phi + 2.0 * std::f64::consts::FRAC_PI_3).cos();
    let l2 = 3.0 * q - l1 - l3;
    [l1 as f32, l2 as f32, l3 as f32]
}

/// Buckets of the order-statistics search.
const N_BUCKETS: usize = 32;
const _: () = assert!(N_BUCKETS.is_power_of_two() && WINDOW_LEN % 4 == 0);

/// The order statistics of the given ranks (0-based) of `x`, exactly, by bucket selection: a monotonic map of each
/// value to one of [`N_BUCKETS`] equal-width buckets between the minimum and the maximum, a count per bucket, then
/// a selection among the few values of the bucket holding each rank. About four times faster than three
/// `select_nth_unstable` calls on a window (which were a quarter of extraction time).
fn percentiles<const K: usize>(
    x: &[f32; WINDOW_LEN],
    bucket: &mut [u8; WINDOW_LEN],
    pick: &mut [f32; WINDOW_LEN],
    ranks: [usize; K],
) -> [f32; K] {
    let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // Constant input (or no ordering at all): every order statistic is the minimum.
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return [lo; K];
    }
    // Any monotonic map into the buckets keeps the selection exact. (v - lo) * scale is monotonic in v (each
    // rounding step is) and lies in [0, 31] up to rounding; adding 2^23 rounds it to an integer that sits in the
    // low bits of the sum (a float-to-int conversion without the conversion, which vectorises). NaN, impossible
    // after validation, would land in some bucket.
    let scale = (N_BUCKETS - 1) as f32 / (hi - lo);
    for (b, &v) in bucket.iter_mut().zip(x) {
        *b = (((v - lo) * scale).min((N_BUCKETS - 1) as f32) + 8_388_608.0).to_bits() as u8;
    }
    // Counts and write cursors are kept per lane of four (samples i, i+4, ...), so that consecutive samples in one
    // bucket do not wait on each other's increment (a store-to-load chain through memory).
    let mut lane_count = [[0u8; N_BUCKETS]; 4];
    for ch in bucket.chunks_exact(4) {
        for (l, &b) in ch.iter().enumerate() {
            lane_count[l][usize::from(b) & (N_BUCKETS - 1)] += 1;
        }
    }
    let mut count = [0u8; N_BUCKETS];
    for (i, c) in count.iter_mut().enumerate() {
        *c = lane_count.iter().map(|lc| lc[i]).sum();
    }
    // Counting sort by bucket into `pick`, then a selection inside the bucket that holds each rank.
    let mut first = [0u8; N_BUCKETS + 1];
    for i in 0..N_BUCKETS {
        first[i + 1] = first[i] + count[i];
    }
    let mut next = [[0u8; N_BUCKETS]; 4];
    for i in 0..N_BUCKETS {
        let mut at = first[i];
        for (nl, lc) in next.iter_mut().zip(&lane_count) {
            nl[i] = at;
            at += lc[i];
        }
    }
    for (bs, vs) in bucket.chunks_exact(4).zip(x.chunks_exact(4)) {
        for l in 0..4 {
            let slot = &mut next[l][usize::from(bs[l]) & (N_BUCKETS - 1)];
            pick[usize::from(*slot)] = vs[l];
            *slot += 1;
        }
    }
    let mut out = [lo; K];
    for (o, &rank) in out.iter_mut().zip(&ranks) {
        let rank = rank.min(WINDOW_LEN - 1);
        // The bucket holding `rank`: the last one that starts at or before it.
        let b = first[1..].partition_point(|&f| usize::from(f) <= rank);
        let (s, e) = (usize::from(first[b]), usize::from(first[b + 1]));
        let (_, v, _) = pick[s..e].select_nth_unstable_by(rank - s, f32::total_cmp);
        *o = *v;
    }
    out
}

/// Natural logarithm to about 1e-5 relative error for positive normal `x` (exponent from the bits, the mantissa
/// by the atanh series); libm's `ln` per spectrum bin was a tenth of extraction time.
fn fast_ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln_m = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0)))));
    e as f32 * std::f32::consts::LN_2 + ln_m
}

fn spectrum_summary(p: &[f32; N_BINS]) -> SpectrumSummary {
    // Bin 0 (the mean) is zero after centring; start at 0.2 Hz (bin 1).
    let total: f32 = p[1..].iter().sum();
    if total <= 1e-12 {
        return SpectrumSummary { dom_freq: 0.0, dom_frac: 0.0, entropy: 0.0, bands: [0.0; 4] };
    }
    let inv_total = 1.0 / total;
    // The first largest bin, without a branch per bin (a data-dependent branch mispredicts on noise).
    let (mut best, mut best_p) = (1, p[1]);
    for (i, &pi) in p.iter().enumerate().skip(2) {
        let better = pi > best_p;
        best = if better { i } else { best };
        best_p = if better { pi } else { best_p };
    }
    // Branch-free so it vectorises. `fast_ln` needs a normal number: clamping q at 1e-30 changes a bin's q ln q by
    // under 1e-28.
    let mut acc = [0.0f32; 8];
    let mut chunks = p[1..].chunks_exact(8);
    for ch in &mut chunks {
        for (a, &pi) in acc.iter_mut().zip(ch) {
            let q = pi * inv_total;
            *a -= q * fast_ln(q.max(1e-30));
        }
    }
    let rest: f32 = chunks.remainder().iter().map(|&pi| pi * inv_total).map(|q| -q * fast_ln(q.max(1e-30))).sum();
    let entropy = acc.iter().sum::<f32>() + rest;
    let mut bands = [0.0f32; 4];
    for (b, &(lo, hi)) in bands.iter_mut().zip(&BANDS) {
        *b = p[lo..hi].iter().sum::<f32>() * inv_total;
    }
    SpectrumSummary {
        dom_freq: best as f32 * FREQ_STEP,
        dom_frac: p[best] * inv_total,
        entropy: entropy / ((N_BINS - 1) as f32).ln(),
        bands,
    }
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

    /// Naive DFT power, the oracle for the FFT path.
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

    fn noise(seed: u32) -> [f32; WINDOW_LEN] {
        let mut x = [0.0f32; WINDOW_LEN];
        let mut seed = seed;
        for v in x.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *v = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        x
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        for (a, b) in a.iter().zip(b) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn packed_fft_power_matches_naive_dft() {
        let mut fx = FeatureExtractor::new();
        let (a, b) = (noise(12345), noise(999));
        let (mut pa, mut pb, mut plane) = ([0.0f32; N_BINS], [0.0f32; N_BINS], [0.0f32; N_BINS]);
        power_pair(&fx.fft, &mut fx.fft_buf, &a, &b, &mut pa, &mut pb);
        let (na, nb) = (naive_power(&a), naive_power(&b));
        assert_close(&pa, &na);
        assert_close(&pb, &nb);
        power_plane(&fx.fft, &mut fx.fft_buf, &a, &b, &mut plane);
        let sum: Vec<f32> = na.iter().zip(&nb).map(|(x, y)| x + y).collect();
        assert_close(&plane, &sum);
    }

    #[test]
    fn the_lane_wise_maximum_is_the_maximum_wherever_it_sits() {
        assert_eq!(max_non_negative(&[0.0; WINDOW_LEN]), 0.0);
        // The largest value in every position: the lanes, the last full chunk and the remainder (100 = 12 x 8 + 4).
        let base = noise(77).map(f32::abs);
        let top = base.iter().copied().fold(0.0f32, f32::max);
        for i in 0..WINDOW_LEN {
            let mut x = base;
            x[i] = top + 1.0 + i as f32;
            assert_eq!(max_non_negative(&x), x[i], "largest at {i}");
        }
        assert_eq!(max_non_negative(&base), top);
    }

    #[test]
    fn autocorrelation_from_the_spectrum_matches_the_circular_definition() {
        let mut fx = FeatureExtractor::new();
        let x = noise(4242);
        let zero = [0.0f32; WINDOW_LEN];
        let (mut p, mut p0) = ([0.0f32; N_BINS], [0.0f32; N_BINS]);
        power_pair(&fx.fft, &mut fx.fft_buf, &x, &zero, &mut p, &mut p0);
        let r0: f32 = x.iter().map(|v| v * v).sum();
        let mut best = (f32::NEG_INFINITY, 0usize);
        for lag in AC_LAG_LO..=AC_LAG_HI {
            let r: f32 = (0..WINDOW_LEN).map(|i| x[i] * x[(i + lag) % WINDOW_LEN]).sum::<f32>() / r0;
            if r > best.0 {
                best = (r, lag);
            }
        }
        let (peak, lag_s) = autocorr_peak(&fx.ac_table, &p, r0);
        assert!((peak - best.0).abs() < 1e-4, "{peak} vs {}", best.0);
        assert!((lag_s - best.1 as f32 / RATE_HZ).abs() < 1e-6);
        assert_eq!(autocorr_peak(&fx.ac_table, &p0, 0.0), (0.0, 0.0), "a silent signal has no peak");
    }

    #[test]
    fn percentiles_match_a_full_sort() {
        let (a, b, c) = (noise(1), noise(2), noise(3));
        let mut w = window_from(|_| Vector3::zeros(), Vector3::z());
        for i in 0..WINDOW_LEN {
            w.accel[0][i] = a[i] * 4.0;
            w.accel[1][i] = b[i];
            w.accel[2][i] = 9.81 + c[i] * 2.0;
        }
        let mut f = [0.0; N_FEATURES];
        FeatureExtractor::new().extract(&w, &mut f);
        let means: Vec<f32> = (0..3).map(|k| w.accel[k].iter().sum::<f32>() / WINDOW_LEN as f32).collect();
        let mut m: Vec<f32> =
            (0..WINDOW_LEN).map(|i| (0..3).map(|k| (w.accel[k][i] - means[k]).powi(2)).sum::<f32>().sqrt()).collect();
        m.sort_by(f32::total_cmp);
        for (name, want) in [("m_p10", m[10]), ("m_p50", m[50]), ("m_p90", m[90]), ("m_max", m[99])] {
            assert!((f[idx(name)] - want).abs() < 1e-5, "{name}: {} vs {want}", f[idx(name)]);
        }
    }

    #[test]
    fn bucket_percentiles_are_exact_with_ties_and_constants() {
        let mut cases: Vec<[f32; WINDOW_LEN]> = vec![[2.5; WINDOW_LEN], noise(5).map(|v| v.abs())];
        let mut ties = [0.0f32; WINDOW_LEN];
        for (i, t) in ties.iter_mut().enumerate() {
            *t = (i % 3) as f32 * 0.25;
        }
        cases.push(ties);
        let mut skewed = noise(8).map(|v| v.abs() * 1e-3);
        skewed[17] = 1e6;
        cases.push(skewed);
        for x in cases {
            let (mut b, mut p) = ([0u8; WINDOW_LEN], [0.0f32; WINDOW_LEN]);
            let ranks = [0, 10, 50, 90, 99];
            let got = percentiles(&x, &mut b, &mut p, ranks);
            let mut sorted = x;
            sorted.sort_by(f32::total_cmp);
            assert_eq!(got, ranks.map(|r| sorted[r]));
        }
    }

    #[test]
    fn closed_form_eigenvalues_match_nalgebra() {
        let mut cases = vec![
            Matrix3::identity() * 2.0,
            Matrix3::from_diagonal(&Vector3::new(0.1, 3.0, 1.5)),
            Matrix3::new(2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 3.0), // a repeated eigenvalue (3, 3, 1)
            Matrix3::zeros(),
        ];
        let (a, b, c) = (noise(11), noise(12), noise(13));
        for i in 0..40 {
            let v = Vector3::new(a[i], b[i], c[i]);
            let u = Vector3::new(b[i + 40], c[i + 40], a[i + 40]);
            cases.push(v * v.transpose() * 4.0 + u * u.transpose() + Matrix3::identity() * 1e-3 * i as f32);
        }
        for m in cases {
            let mut want: Vec<f32> = SymmetricEigen::new(m).eigenvalues.iter().copied().collect();
            want.sort_by(|x, y| y.total_cmp(x));
            let got = sym3_eigenvalues(&m);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * want[0].abs().max(1e-3), "{got:?} vs {want:?} for {m}");
            }
        }
    }

    #[test]
    fn fast_ln_is_close_to_ln() {
        for &x in &[1e-30f32, 1e-12, 3.7e-5, 0.01, 0.2, 0.5, 0.999, 1.0, 1.5, 2.0, 7.3, 1e6] {
            assert!((fast_ln(x) - x.ln()).abs() <= 2e-5 * x.ln().abs().max(1.0), "{x}: {} vs {}", fast_ln(x), x.ln());
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
    fn gravity_blind_features_are_those_of_the_same_motion_without_gravity() {
        // Most of the motion horizontal, so the principal axis is not the vertical.
        let motion = |t: f32| {
            Vector3::new(
                2.5 * (2.0 * std::f32::consts::PI * 1.1 * t).sin(),
                0.3 * (2.0 * std::f32::consts::PI * 0.4 * t).cos(),
                9.81 + 0.8 * (2.0 * std::f32::consts::PI * 2.3 * t).sin(),
            )
        };
        let with = window_from(motion, Vector3::z());
        let mut without = window_from(|t| motion(t) - Vector3::new(0.0, 0.0, 9.81), Vector3::zeros());
        without.gravity_fraction = 0.0;
        assert!(with.holds_gravity() && !without.holds_gravity());
        let (mut natural, mut blind, mut free) = ([0.0; N_FEATURES], [0.0; N_FEATURES], [0.0; N_FEATURES]);
        FeatureExtractor::new().extract(&with, &mut natural);
        FeatureExtractor::gravity_blind().extract(&with, &mut blind);
        FeatureExtractor::new().extract(&without, &mut free);
        for i in 0..N_FEATURES {
            let tol = 1e-3 * free[i].abs().max(1.0);
            assert!((blind[i] - free[i]).abs() < tol, "{}: {} vs {}", FEATURE_NAMES[i], blind[i], free[i]);
        }
        // With gravity, the natural extractor splits along it instead: the vertical share differs.
        assert!(natural[idx("v_share")] < 0.2 && blind[idx("v_share")] > 0.8, "{natural:?} {blind:?}");
    }

    #[test]
    fn without_gravity_turning_the_principal_axis_over_changes_no_feature() {
        // Skewed motion (short sharp pulses one way, slow return) mostly along x, no gravity. Turning the phone
        // half a turn about z points that axis the other way; the eigen-solver need not follow, so the vertical
        // component changes sign and, unless the extractor drops it, so does its skewness.
        let motion = |t: f32| {
            let phase = (1.7 * t).fract();
            let pulse = if phase < 0.1 { 6.0 } else { -0.6 };
            Vector3::new(pulse, 0.3 * (2.0 * std::f32::consts::PI * 0.7 * t).sin(), 0.1 * (9.0 * t).cos())
        };
        let mut w = window_from(motion, Vector3::zeros());
        w.gravity_fraction = 0.0;
        let half_turn = Rotation3::from_axis_angle(&Vector3::z_axis(), std::f32::consts::PI);
        let mut turned = window_from(|t| half_turn * motion(t), Vector3::zeros());
        turned.gravity_fraction = 0.0;
        let (mut f0, mut f1) = ([0.0; N_FEATURES], [0.0; N_FEATURES]);
        FeatureExtractor::new().extract(&w, &mut f0);
        FeatureExtractor::new().extract(&turned, &mut f1);
        assert!(f0[idx("v_skew")] > 1.0, "the pulses are skewed: {}", f0[idx("v_skew")]);
        for i in 0..N_FEATURES {
            let tol = 1e-3 * f0[i].abs().max(1.0);
            assert!((f0[i] - f1[i]).abs() < tol, "{} turned: {} vs {}", FEATURE_NAMES[i], f0[i], f1[i]);
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
