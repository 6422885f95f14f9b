//! Gravity estimation and orientation-invariant signals.
//!
//! Without a gyroscope, gravity is the low-pass of the acceleration (one pole, time constant
//! [`GRAVITY_TAU_S`]). With a gyroscope, a Madgwick filter (IMU form, nalgebra `UnitQuaternion`) tracks the
//! orientation, so gravity follows fast rotations that a low-pass would smear into "motion". The low-pass runs in
//! both cases: its magnitude tells whether the input contains gravity at all. Sources that removed gravity before
//! we see them (some watches and logging apps) have no such component; for them [`GravityEstimate::plausible`] is
//! false and the feature stage falls back to the principal axis of motion as "vertical" (see `features`).

use nalgebra::{UnitQuaternion, Vector3};

use crate::resample::{GridSample, RATE_HZ};

/// Time constant of the gravity low-pass, seconds.
pub const GRAVITY_TAU_S: f32 = 1.0;
/// Madgwick gain (rad/s): how fast the accelerometer corrects gyro drift.
pub const MADGWICK_BETA: f32 = 0.1;

/// The gravity estimate for one grid sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GravityEstimate {
    /// Unit vector of gravity's direction in device axes ("up" reads positive, Android convention).
    pub up: Vector3<f32>,
    /// Whether the input's slow component looks like gravity (magnitude 6.5-13 m/s^2).
    pub plausible: bool,
    /// Magnitude of the input's slow component (the low-pass), m/s^2.
    pub norm: f32,
}

/// The streaming gravity filter. No allocation.
#[derive(Debug, Clone)]
pub struct Fusion {
    lowpass: Option<Vector3<f32>>,
    orientation: Option<UnitQuaternion<f32>>,
    alpha: f32,
    dt: f32,
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
        Fusion { lowpass: None, orientation: None, alpha: dt / (GRAVITY_TAU_S + dt), dt }
    }

    /// Updates the estimate with one grid sample.
    pub fn update(&mut self, g: &GridSample) -> GravityEstimate {
        let lp = match self.lowpass {
            None => g.accel,
            Some(lp) => lp + (g.accel - lp) * self.alpha,
        };
        self.lowpass = Some(lp);
        let norm = lp.norm();
        let plausible = (6.5..=13.0).contains(&norm);
        // The low-pass direction is needed only without a running Madgwick filter (computed only then).
        let lp_up = || if norm > 1e-6 { lp / norm } else { Vector3::z() };
        if !g.has_gyro || !plausible {
            self.orientation = None;
            return GravityEstimate { up: lp_up(), plausible, norm };
        }
        let q = match self.orientation {
            Some(q) => madgwick_imu(q, &g.gyro, &g.accel, MADGWICK_BETA, self.dt),
            None => initial_orientation(&lp_up()),
        };
        self.orientation = Some(q);
        // The device-frame direction of world "up" (0, 0, 1): the third row of q's rotation matrix, written out
        // (nalgebra's general inverse rotation of a vector costs several times as much).
        let (w, x, y, z) = (q.w, q.i, q.j, q.k);
        let up = Vector3::new(2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y));
        GravityEstimate { up, plausible, norm }
    }

    /// Forgets all state.
    pub fn wipe(&mut self) -> usize {
        *self = Fusion::new();
        std::mem::size_of::<Self>()
    }

    /// True when no state derived from samples is held.
    pub fn is_zero(&self) -> bool {
        self.lowpass.is_none() && self.orientation.is_none()
    }
}

/// The orientation whose device-frame "up" is `up`, with an arbitrary heading.
fn initial_orientation(up: &Vector3<f32>) -> UnitQuaternion<f32> {
    // Rotation taking device `up` to world z; its inverse maps world z to device up.
    UnitQuaternion::rotation_between(up, &Vector3::z()).unwrap_or_else(UnitQuaternion::identity)
}

/// One Madgwick IMU step. `q` rotates device-frame vectors into the world frame.
fn madgwick_imu(
    q: UnitQuaternion<f32>,
    gyro: &Vector3<f32>,
    accel: &Vector3<f32>,
    beta: f32,
    dt: f32,
) -> UnitQuaternion<f32> {
    let (q0, q1, q2, q3) = (q.w, q.i, q.j, q.k);
    let (gx, gy, gz) = (gyro.x, gyro.y, gyro.z);
    // Rate of change from the gyroscope.
    let mut d0 = 0.5 * (-q1 * gx - q2 * gy - q3 * gz);
    let mut d1 = 0.5 * (q0 * gx + q2 * gz - q3 * gy);
    let mut d2 = 0.5 * (q0 * gy - q1 * gz + q3 * gx);
    let mut d3 = 0.5 * (q0 * gz + q1 * gy - q2 * gx);
    let an2 = accel.norm_squared();
    if an2 > 1e-12 {
        let inv_an = 1.0 / an2.sqrt();
        let (ax, ay, az) = (accel.x * inv_an, accel.y * inv_an, accel.z * inv_an);
        // Gradient of the objective: predicted gravity (world z seen in device frame) minus measured.
        let f1 = 2.0 * (q1 * q3 - q0 * q2) - ax;
        let f2 = 2.0 * (q0 * q1 + q2 * q3) - ay;
        let f3 = 2.0 * (0.5 - q1 * q1 - q2 * q2) - az;
        let s0 = -2.0 * q2 * f1 + 2.0 * q1 * f2;
        let s1 = 2.0 * q3 * f1 + 2.0 * q0 * f2 - 4.0 * q1 * f3;
        let s2 = -2.0 * q0 * f1 + 2.0 * q3 * f2 - 4.0 * q2 * f3;
        let s3 = 2.0 * q1 * f1 + 2.0 * q2 * f2;
        let sn2 = s0 * s0 + s1 * s1 + s2 * s2 + s3 * s3;
        if sn2 > 1e-18 {
            let k = beta / sn2.sqrt();
            d0 -= k * s0;
            d1 -= k * s1;
            d2 -= k * s2;
            d3 -= k * s3;
        }
    }
    let next = [q0 + d0 * dt, q1 + d1 * dt, q2 + d2 * dt, q3 + d3 * dt];
    let n2 = next.iter().map(|c| c * c).sum::<f32>();
    if n2 > 1e-18 && n2.is_finite() {
        // Normalised here, so the unchecked constructor holds a unit quaternion.
        let inv = 1.0 / n2.sqrt();
        UnitQuaternion::new_unchecked(nalgebra::Quaternion::new(
            next[0] * inv,
            next[1] * inv,
            next[2] * inv,
            next[3] * inv,
        ))
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: f32 = crate::sample::STANDARD_GRAVITY;

    fn grid(a: Vector3<f32>, w: Option<Vector3<f32>>) -> GridSample {
        GridSample { t_ns: 0, accel: a, gyro: w.unwrap_or_default(), has_gyro: w.is_some(), inputs: 1 }
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
    fn madgwick_follows_a_rotation_the_lowpass_lags_on() {
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
        // The gradient step sees each measurement one step early, so it leads by up to beta * t = 0.1 rad.
        assert!((est.up - truth).norm() < 0.1, "{:?} vs {:?}", est.up, truth);
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
