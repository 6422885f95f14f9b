//! Gravity estimation and orientation-invariant signals.
//!
//! Gravity is the low-pass of the acceleration (one pole, time constant [`GRAVITY_TAU_S`]). With a gyroscope, the
//! low-pass state is first turned by the rotation the gyroscope measured since the previous grid point, so gravity
//! follows fast rotations that a plain low-pass would smear into "motion". That is Mahony's complementary filter
//! reduced to the one direction anything downstream reads (see [`Fusion::update`]). The state's magnitude tells
//! whether the input contains gravity at all. Sources that removed gravity before we see them (some watches and
//! logging apps) have no such component; for them [`GravityEstimate::plausible`] is false and the feature stage
//! falls back to the principal axis of motion as "vertical" (see `features`).

use nalgebra::{Matrix3, Vector3};

use crate::resample::{GridSample, RATE_HZ};

/// Time constant of the gravity low-pass, seconds. With a gyroscope this is the accelerometer's correction time
/// (Mahony's proportional gain `kp = 1 / GRAVITY_TAU_S`).
pub const GRAVITY_TAU_S: f32 = 1.0;
/// Rotation per grid step, radians, above which the gyroscope's turn is rescaled to keep the state's length (10 rad/s
/// at 20 Hz; see `turn_and_blend`).
const FAST_TURN_RAD: f32 = 0.5;

/// The gravity estimate for one grid sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GravityEstimate {
    /// Unit vector of gravity's direction in device axes ("up" reads positive, Android convention).
    pub up: Vector3<f32>,
    /// Whether the input's slow component looks like gravity (magnitude in [`crate::sample::SLOW_NORM_OF_GRAVITY`]).
    pub plausible: bool,
    /// Magnitude of the input's slow component (the low-pass), m/s^2.
    pub norm: f32,
}

impl GravityEstimate {
    /// The estimate for a state of the gravity filter (its slow component, m/s^2, device axes): direction,
    /// magnitude and plausibility. The live path calls this once per window for a hop's samples at a time (see
    /// `WindowRing`), off the per-sample chain; [`Fusion::update`] calls it per sample.
    #[inline(always)]
    pub fn from_state(gravity: &Vector3<f32>) -> Self {
        let norm = gravity.norm();
        let plausible = crate::sample::SLOW_NORM_OF_GRAVITY.contains(&norm);
        let up = if norm > 1e-6 { gravity * (1.0 / norm) } else { Vector3::z() };
        GravityEstimate { up, plausible, norm }
    }
}

/// The streaming gravity filter. No allocation.
#[derive(Debug, Clone)]
pub struct Fusion {
    /// The slow component of the acceleration in device axes, m/s^2 (gravity, when the source has it); meaningful
    /// only when `has_gravity`. A plain value with a flag rather than an `Option`, so that a wipe overwrites the
    /// value itself (setting an `Option` to `None` writes only its tag) and [`Fusion::is_zero`] can check it.
    has_gravity: bool,
    gravity: Vector3<f32>,
    alpha: f32,
    dt: f32,
    /// Whether the gyroscope is ignored from now on ([`Fusion::ignore_gyroscope`]).
    gyroscope_ignored: bool,
}

impl Default for Fusion {
    fn default() -> Self {
        Self::new()
    }
}

impl Fusion {
    /// A filter that has seen nothing.
    pub fn new() -> Self {
        let dt = 1.0 / RATE_HZ;
        Fusion {
            has_gravity: false,
            gravity: Vector3::zeros(),
            alpha: dt / (GRAVITY_TAU_S + dt),
            dt,
            gyroscope_ignored: false,
        }
    }

    /// Updates the estimate with one grid sample.
    ///
    /// Without a gyroscope: `g <- g + alpha (a - g)`. With one: `g <- R g + alpha (a - R g)`, where `R` turns a
    /// world-fixed vector by the device's measured rotation over the step (`exp(-[w dt]x)`, to second order). On
    /// the direction of `g` this is Mahony's proportional IMU filter with `kp = 1 / GRAVITY_TAU_S`: the gyroscope
    /// propagates it, and the accelerometer pulls it toward the measurement across its direction. The pull is
    /// linear in the acceleration (Mahony normalises it first), so the estimate is the time average of the
    /// rotation-compensated acceleration, the same estimator as without a gyroscope: the two kinds of source give
    /// the same gravity for a phone that does not turn. Heading, which Mahony's quaternion also carries, is
    /// unobservable without a magnetometer and read by nothing here.
    ///
    /// This replaced a Madgwick filter. Its normalised gradient step corrects by a fixed amount whatever the error,
    /// so at rest it dithered around the true tilt, and that dither showed up in still windows' vertical
    /// acceleration; its two square roots and divisions per step, on the chain from one step to the next, were
    /// also the whole cost of a gyroscope (see `benches/README.md`). Here one step is a matrix built from this
    /// sample alone times the previous state, plus a vector.
    ///
    /// The live pipeline calls [`Fusion::update_state`] instead and derives the estimates a hop at a time.
    pub fn update(&mut self, g: &GridSample) -> GravityEstimate {
        GravityEstimate::from_state(&self.update_state(g))
    }

    /// [`Fusion::update`] without the estimate's direction and magnitude: the filter's new state (the slow
    /// component of the acceleration, m/s^2, device axes), for [`GravityEstimate::from_state`] later. The live path
    /// uses this, so that the square root and division of the direction stay off the per-sample path.
    #[inline(always)]
    pub fn update_state(&mut self, g: &GridSample) -> Vector3<f32> {
        let prev = self.gravity;
        let gravity = if !self.has_gravity {
            g.accel
        } else if g.has_gyro && !self.gyroscope_ignored {
            turn_and_blend(&prev, &(g.gyro * self.dt), &g.accel, self.alpha)
        } else {
            prev + (g.accel - prev) * self.alpha
        };
        self.has_gravity = true;
        self.gravity = gravity;
        gravity
    }

    /// Ignores the gyroscope from the next sample on: gravity is then the plain low-pass of the acceleration, as for
    /// a device without one. For a gyroscope found to contradict the accelerometer (see `pipeline`); a wipe keeps it
    /// (it says what the source is, not what it measured).
    pub fn ignore_gyroscope(&mut self) {
        self.gyroscope_ignored = true;
    }

    /// Whether [`Fusion::ignore_gyroscope`] was called since the filter was made.
    pub fn gyroscope_ignored(&self) -> bool {
        self.gyroscope_ignored
    }

    /// Forgets all state derived from samples (not whether the gyroscope is ignored).
    pub fn wipe(&mut self) -> usize {
        *self = Fusion { gyroscope_ignored: self.gyroscope_ignored, ..Fusion::new() };
        std::mem::size_of::<Self>()
    }

    /// True when no state derived from samples is held: the estimate is zero, not merely marked absent.
    pub fn is_zero(&self) -> bool {
        !self.has_gravity && self.gravity == Vector3::zeros()
    }
}

/// One gyroscope-aided low-pass step: `(1 - alpha) R v + alpha accel`, where `R v` is `v`, a world-fixed vector in
/// device axes, after the device turned by `angle` (rotation vector, device axes, radians): `exp(-[angle]x) v` to
/// second order, `(I - [angle]x + [angle]x^2 / 2) v`.
///
/// `(1 - alpha) R` and `alpha accel` depend on this sample alone, so the chain from one step to the next is one
/// matrix-vector product and an addition. The second-order map lengthens a vector by at most a factor
/// `sqrt(1 + |angle|^4 / 4)`, which `1 - alpha` more than cancels below `FAST_TURN_RAD`; above it (a phone spun
/// faster than 10 rad/s) the turned vector is rescaled to the input's length, so that no input, however fast,
/// makes the state grow without bound.
#[inline(always)]
fn turn_and_blend(v: &Vector3<f32>, angle: &Vector3<f32>, accel: &Vector3<f32>, alpha: f32) -> Vector3<f32> {
    let a = angle;
    let (xx, yy, zz) = (0.5 * a.x * a.x, 0.5 * a.y * a.y, 0.5 * a.z * a.z);
    let (xy, xz, yz) = (0.5 * a.x * a.y, 0.5 * a.x * a.z, 0.5 * a.y * a.z);
    // [a]x^2 = a a^T - |a|^2 I.
    #[rustfmt::skip]
    let rotation = Matrix3::new(
        1.0 - yy - zz, xy + a.z,      xz - a.y,
        xy - a.z,      1.0 - xx - zz, yz + a.x,
        xz + a.y,      yz - a.x,      1.0 - xx - yy,
    );
    if a.norm_squared() > FAST_TURN_RAD * FAST_TURN_RAD {
        return fast_turn_and_blend(v, &rotation, accel, alpha);
    }
    (rotation * (1.0 - alpha)) * v + accel * alpha
}

/// [`turn_and_blend`] for a turn above `FAST_TURN_RAD`: the turned vector keeps the input's length.
#[cold]
#[inline(never)]
fn fast_turn_and_blend(v: &Vector3<f32>, rotation: &Matrix3<f32>, accel: &Vector3<f32>, alpha: f32) -> Vector3<f32> {
    let turned = rotation * v;
    let (before, after) = (v.norm(), turned.norm());
    let turned = if after > 1e-12 && after.is_finite() { turned * (before / after) } else { *v };
    turned + (accel - turned) * alpha
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: f32 = crate::sample::STANDARD_GRAVITY;

    fn grid(a: Vector3<f32>, w: Option<Vector3<f32>>) -> GridSample {
        GridSample { t_ns: 0, accel: a, gyro: w.unwrap_or_default(), has_gyro: w.is_some(), inputs: 1 }
    }

    #[test]
    fn a_wipe_overwrites_the_estimate_and_keeps_the_gyroscope_latch() {
        let mut f = Fusion::new();
        f.ignore_gyroscope();
        f.update_state(&grid(Vector3::new(1.25, -2.5, 9.75), None));
        assert!(!f.is_zero() && format!("{f:?}").contains("9.75"));
        f.wipe();
        assert!(f.is_zero() && f.gyroscope_ignored());
        assert!(!format!("{f:?}").contains("9.75"), "{f:?}");
    }

    #[test]
    fn still_phone_in_any_orientation_gives_gravity_direction() {
        for dir in [Vector3::new(0.0, 0.0, 1.0), Vector3::new(1.0, 0.0, 0.0), Vector3::new(0.3, -0.8, 0.5)] {
            let dir = dir.normalize();
            for gyro in [None, Some(Vector3::zeros())] {
                let mut f = Fusion::new();
                let mut est = GravityEstimate::default();
                for _ in 0..200 {
                    est = f.update(&grid(dir * G, gyro));
                }
                assert!(est.plausible);
                assert!((est.up - dir).norm() < 1e-3, "{:?} vs {:?} (gyro {:?})", est.up, dir, gyro);
                // Vertical component |g|, horizontal ~0.
                let a = dir * G;
                let v = a.dot(&est.up);
                let h = (a - est.up * v).norm();
                assert!((v - G).abs() < 0.02 && h < 0.02, "v {v} h {h}");
            }
        }
    }

    #[test]
    fn gyroscope_follows_a_rotation_the_lowpass_lags_on() {
        // Rotate at 1 rad/s about x for 1 s, starting with the phone flat; gravity in device frame rotates with it.
        let mut f = Fusion::new();
        let mut lowpass_only = Fusion::new();
        for _ in 0..100 {
            f.update(&grid(Vector3::z() * G, Some(Vector3::zeros())));
            lowpass_only.update(&grid(Vector3::z() * G, None));
        }
        let w = 1.0f32;
        let (mut est, mut lp) = (GravityEstimate::default(), GravityEstimate::default());
        for i in 1..=20 {
            let ang = w * i as f32 / RATE_HZ;
            let up = Vector3::new(0.0, ang.sin(), ang.cos());
            est = f.update(&grid(up * G, Some(Vector3::new(w, 0.0, 0.0))));
            lp = lowpass_only.update(&grid(up * G, None));
        }
        let truth = Vector3::new(0.0, 1.0f32.sin(), 1.0f32.cos());
        // The second-order turn falls short by (w dt)^3 / 6 = 2e-5 rad per step; the low-pass alone lags by ~1 rad.
        assert!((est.up - truth).norm() < 0.005, "{:?} vs {:?}", est.up, truth);
        assert!((lp.up - truth).norm() > 0.3, "the low-pass lags: {:?}", lp.up);
    }

    #[test]
    fn gravity_free_input_is_flagged() {
        let mut f = Fusion::new();
        let mut est = GravityEstimate::default();
        for i in 0..100 {
            est = f.update(&grid(Vector3::new((i as f32).sin(), 0.2, -0.1), None));
        }
        assert!(!est.plausible);
    }
}
