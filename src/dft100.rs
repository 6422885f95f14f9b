//! The 100-point discrete Fourier transform of one window, as a fixed prime-factor algorithm.
//!
//! Every window needs four transforms (two signals per complex transform, for the window and for its slow view),
//! so this is on the per-window hot path. rustfft's general algorithms for this length (mixed-radix or
//! Good-Thomas over 4 x 5 x 5) cost about 11,000 instructions per transform through dynamic dispatch, index
//! tables and transposes, and its SIMD planner links about 800 KB of code into the phone library. Fixing the
//! length lets everything be straight-line code over stack arrays: Good-Thomas 4 x 25 (coprime factors, so no
//! twiddles between the stages) and Cooley-Tukey 5 x 5 for the 25-point transforms. It is tested against a naive
//! DFT.

use nalgebra::Complex;

/// Transform length.
pub const N: usize = 100;

type C = Complex<f32>;

/// Four complex numbers, one per output row `k1` of the 4-point stage, as separate real and imaginary lanes: the
/// four 25-point transforms run side by side, so each operation below is one SIMD instruction on four lanes.
#[derive(Clone, Copy)]
struct V {
    re: [f32; 4],
    im: [f32; 4],
}

/// Lane-wise helpers, spelled out so they compile to single SSE/NEON instructions without relying on closures
/// being inlined.
#[inline(always)]
fn add4(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

#[inline(always)]
fn sub4(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]]
}

#[inline(always)]
fn scale4(a: [f32; 4], s: f32) -> [f32; 4] {
    [a[0] * s, a[1] * s, a[2] * s, a[3] * s]
}

impl V {
    const ZERO: V = V { re: [0.0; 4], im: [0.0; 4] };

    #[inline(always)]
    fn add(self, o: V) -> V {
        V { re: add4(self.re, o.re), im: add4(self.im, o.im) }
    }

    #[inline(always)]
    fn sub(self, o: V) -> V {
        V { re: sub4(self.re, o.re), im: sub4(self.im, o.im) }
    }

    #[inline(always)]
    fn scale(self, s: f32) -> V {
        V { re: scale4(self.re, s), im: scale4(self.im, s) }
    }

    /// Multiplies by `-i`.
    #[inline(always)]
    fn mul_neg_i(self) -> V {
        V { re: self.im, im: scale4(self.re, -1.0) }
    }

    /// Multiplies every lane by the complex number `t`.
    #[inline(always)]
    fn mul(self, t: C) -> V {
        V {
            re: sub4(scale4(self.re, t.re), scale4(self.im, t.im)),
            im: add4(scale4(self.re, t.im), scale4(self.im, t.re)),
        }
    }
}

// cos and sin of 2 pi / 5 and 4 pi / 5.
const C1: f32 = 0.309_017;
const C2: f32 = -0.809_017;
const S1: f32 = 0.951_056_5;
const S2: f32 = 0.587_785_24;

/// Forward 5-point DFT (the symmetric form: 4 real multiplications per output pair).
#[inline(always)]
fn dft5(x: [V; 5]) -> [V; 5] {
    let (s1, d1) = (x[1].add(x[4]), x[1].sub(x[4]));
    let (s2, d2) = (x[2].add(x[3]), x[2].sub(x[3]));
    let r1 = x[0].add(s1.scale(C1)).add(s2.scale(C2));
    let r2 = x[0].add(s1.scale(C2)).add(s2.scale(C1));
    let t1 = d1.scale(S1).add(d2.scale(S2)).mul_neg_i();
    let t2 = d1.scale(S2).sub(d2.scale(S1)).mul_neg_i();
    [x[0].add(s1).add(s2), r1.add(t1), r2.add(t2), r2.sub(t2), r1.sub(t1)]
}

/// `t[i][j] = (25 j + step * i) mod 100` for `i` in 0..25, `j` in 0..4: a Good-Thomas index map, computed at
/// compile time so the hot loop does no modular arithmetic.
const fn good_thomas_map(step: usize) -> [[u8; 4]; 25] {
    let mut t = [[0u8; 4]; 25];
    let mut i = 0;
    while i < 25 {
        let mut j = 0;
        while j < 4 {
            t[i][j] = ((25 * j + step * i) % N) as u8;
            j += 1;
        }
        i += 1;
    }
    t
}

/// The input map: `IN_IDX[n2][n1] = (25 n1 + 4 n2) mod 100`.
const IN_IDX: [[u8; 4]; 25] = good_thomas_map(4);
/// The output map: `OUT_IDX[k2][k1] = (25 k1 + 76 k2) mod 100` (76 = 4 * (4^-1 mod 25)).
const OUT_IDX: [[u8; 4]; 25] = good_thomas_map(76);

/// `BIN_RE[k]`: where bin `k`'s real part sits in [`Bins`] (its imaginary part is four places on), for `k` in
/// `0..=N` (bin `N` is bin 0 again, so a caller reading bins `k` and `N - k` needs no modulo).
const BIN_RE: [u8; N + 1] = {
    let mut t = [0u8; N + 1];
    let mut row = 0;
    while row < 25 {
        let mut k1 = 0;
        while k1 < 4 {
            t[OUT_IDX[row][k1] as usize] = (8 * row + k1) as u8;
            k1 += 1;
        }
        row += 1;
    }
    t[N] = t[0];
    t
};

/// A transform's 100 bins in the order the algorithm produces them: 25 rows of four real parts followed by their
/// four imaginary parts. Reading a bin goes through a fixed table ([`Bins::get`]); that costs less than putting all
/// 100 in natural order first, since the power spectra read each bin once (twice over two bins' pairs).
#[derive(Clone)]
pub struct Bins {
    flat: [f32; 8 * 25],
}

impl Default for Bins {
    fn default() -> Self {
        Bins { flat: [0.0; 8 * 25] }
    }
}

impl Bins {
    /// Bin `k` (`0..=N`; `N` is bin 0), `X[k]` of [`Dft100::forward`].
    #[inline(always)]
    pub fn get(&self, k: usize) -> C {
        let i = usize::from(BIN_RE[k]);
        C::new(self.flat[i], self.flat[i + 4])
    }

    /// Overwrites every bin with zero.
    pub fn zeroize(&mut self) {
        self.flat.iter_mut().for_each(|x| *x = 0.0);
    }

    /// True when every bin is zero.
    pub fn is_zero(&self) -> bool {
        self.flat.iter().all(|&x| x == 0.0)
    }
}

/// The fixed tables of the transform (built once per extractor; no signal data).
#[derive(Debug, Clone)]
pub struct Dft100 {
    /// `W_25^(b * a)` for `b, a` in 0..5: the twiddles between the two 5-point stages.
    twiddle: [[C; 5]; 5],
}

impl Default for Dft100 {
    fn default() -> Self {
        Self::new()
    }
}

impl Dft100 {
    /// Builds the twiddle table.
    pub fn new() -> Self {
        let mut twiddle = [[C::new(1.0, 0.0); 5]; 5];
        for (b, row) in twiddle.iter_mut().enumerate() {
            for (a, t) in row.iter_mut().enumerate() {
                let ang = -2.0 * std::f64::consts::PI * (a * b) as f64 / 25.0;
                *t = C::new(ang.cos() as f32, ang.sin() as f32);
            }
        }
        Dft100 { twiddle }
    }

    /// Forward DFT of the complex signal `re + i im` into `out`: `X[k] = sum_n x[n] exp(-2 pi i n k / 100)`
    /// (read with [`Bins::get`]). Two real signals share one transform this way; see `features`.
    pub fn forward(&self, re: &[f32; N], im: &[f32; N], out: &mut Bins) {
        // Good-Thomas: n = (25 n1 + 4 n2) mod 100 and k = (25 k1 + 76 k2) mod 100 (76 = 4 * (4^-1 mod 25)) turn
        // the 100-point DFT into 4-point DFTs over n1 followed by 25-point DFTs over n2, with no twiddles.
        // Stage 1: for each n2, the 4-point DFT over n1; its outputs k1 are the lanes of `cols[n2]`.
        let mut cols = [V::ZERO; 25];
        for (col, idx) in cols.iter_mut().zip(&IN_IDX) {
            let i = idx.map(usize::from);
            let (ar, ai) = (re[i[0]] + re[i[2]], im[i[0]] + im[i[2]]);
            let (br, bi) = (re[i[0]] - re[i[2]], im[i[0]] - im[i[2]]);
            let (cr, ci) = (re[i[1]] + re[i[3]], im[i[1]] + im[i[3]]);
            // d = -i (x1 - x3)
            let (dr, di) = (im[i[1]] - im[i[3]], re[i[3]] - re[i[1]]);
            *col = V { re: [ar + cr, br + dr, ar - cr, br - dr], im: [ai + ci, bi + di, ai - ci, bi - di] };
        }
        // Stage 2: the 25-point DFT over n2 of every lane at once; n2 = 5 na + nb, k2 = ka + 5 kb.
        let mut y = [[V::ZERO; 5]; 5];
        for (nb, yb) in y.iter_mut().enumerate() {
            let col = dft5([cols[nb], cols[5 + nb], cols[10 + nb], cols[15 + nb], cols[20 + nb]]);
            let t = &self.twiddle[nb];
            // Row 0's twiddles are all 1 (multiplying by them would return the same finite values).
            *yb = if nb == 0 {
                col
            } else {
                [col[0], col[1].mul(t[1]), col[2].mul(t[2]), col[3].mul(t[3]), col[4].mul(t[4])]
            };
        }
        for ka in 0..5 {
            let row = dft5([y[0][ka], y[1][ka], y[2][ka], y[3][ka], y[4][ka]]);
            for (kb, r) in row.into_iter().enumerate() {
                let at = 8 * (ka + 5 * kb);
                out.flat[at..at + 4].copy_from_slice(&r.re);
                out.flat[at + 4..at + 8].copy_from_slice(&r.im);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[C; N]) -> Vec<C> {
        (0..N)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (n, v) in x.iter().enumerate() {
                    let ang = -2.0 * std::f64::consts::PI * ((k * n) % N) as f64 / N as f64;
                    let (c, s) = (ang.cos(), ang.sin());
                    re += v.re as f64 * c - v.im as f64 * s;
                    im += v.re as f64 * s + v.im as f64 * c;
                }
                C::new(re as f32, im as f32)
            })
            .collect()
    }

    #[test]
    fn matches_the_naive_dft_on_complex_noise_and_on_each_basis_vector() {
        let d = Dft100::new();
        let mut seed = 7u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let mut x = [C::new(0.0, 0.0); N];
        for v in x.iter_mut() {
            *v = C::new(rnd(), rnd());
        }
        let want = naive(&x);
        let mut bins = Bins::default();
        d.forward(&x.map(|c| c.re), &x.map(|c| c.im), &mut bins);
        let got: Vec<C> = (0..N).map(|k| bins.get(k)).collect();
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).norm() < 1e-4, "bin {k}: {g} vs {w}");
        }
        assert_eq!(bins.get(N), bins.get(0), "bin N is bin 0");
        // An impulse at n gives exp(-2 pi i n k / N) in every bin: catches any index-map mistake.
        for n in 0..N {
            let mut e = [C::new(0.0, 0.0); N];
            e[n] = C::new(1.0, 0.0);
            let want = naive(&e);
            d.forward(&e.map(|c| c.re), &e.map(|c| c.im), &mut bins);
            for (k, w) in want.iter().enumerate() {
                let g = bins.get(k);
                assert!((g - w).norm() < 1e-5, "impulse {n}, bin {k}: {g} vs {w}");
            }
        }
    }
}
