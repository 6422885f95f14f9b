//! One timestamped motion sample, its units, and the validation every input passes through.
//!
//! Units: acceleration in m/s^2 *including* gravity (what Android's `TYPE_ACCELEROMETER` reports and what iOS
//! reports times -9.81), angular rate in rad/s, time in monotonic nanoseconds.
//!
//! Validation lives here, once. Errors of the live path name the field and the problem but never carry a sensor
//! value, so they can be logged without leaking motion data.

use nalgebra::Vector3;

/// Standard gravity, m/s^2.
pub const STANDARD_GRAVITY: f32 = 9.806_65;

/// Largest plausible acceleration magnitude, m/s^2 (16 g: the range of the widest phone accelerometers).
pub const MAX_ACCEL_MS2: f32 = 16.0 * STANDARD_GRAVITY;

/// Largest plausible angular rate, rad/s (about 2000 deg/s, the widest phone gyroscope range, with margin).
pub const MAX_GYRO_RADS: f32 = 40.0;

/// Magnitudes of an input's slow component (its low-pass, m/s^2) that read as gravity: input from the raw
/// accelerometer, in m/s^2 (9.81 with margin for miscalibrated sensors and a vehicle's sustained acceleration).
pub const SLOW_NORM_OF_GRAVITY: std::ops::RangeInclusive<f32> = 6.5..=13.0;

/// Magnitudes of an input's slow component that read as gravity *in g*: acceleration written in g where m/s^2 are
/// expected (iOS's CoreMotion reports g). A source of linear acceleration (gravity removed) has a slow component
/// near 0; one of about 1 that holds for seconds is gravity in the wrong unit. The band allows a scale error of 15%
/// and, above it, the low-pass's start-up: a stream that starts mid-movement reads up to 1.35 in its first window.
pub const SLOW_NORM_OF_G_UNITS: std::ops::RangeInclusive<f32> = 0.75..=1.5;

/// One accelerometer reading with an optional gyroscope reading taken at the same time.
///
/// `Sample` deliberately does not implement `serde::Serialize`: raw motion never leaves the device through this
/// crate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Monotonic time in nanoseconds (any epoch; only differences matter).
    pub t_ns: i64,
    /// Acceleration in m/s^2 including gravity, device axes.
    pub accel: Vector3<f32>,
    /// Angular rate in rad/s, device axes, when the device has a gyroscope.
    pub gyro: Option<Vector3<f32>>,
}

impl Sample {
    /// A sample without gyroscope.
    pub fn accel(t_ns: i64, ax: f32, ay: f32, az: f32) -> Self {
        Sample { t_ns, accel: Vector3::new(ax, ay, az), gyro: None }
    }

    /// A sample with gyroscope.
    pub fn with_gyro(t_ns: i64, accel: [f32; 3], gyro: [f32; 3]) -> Self {
        Sample { t_ns, accel: Vector3::from(accel), gyro: Some(Vector3::from(gyro)) }
    }

    /// The gyroscope reading when there is one and it may be used.
    #[inline(always)]
    pub(crate) fn gyro_if(&self, allowed: bool) -> Option<&Vector3<f32>> {
        if allowed {
            self.gyro.as_ref()
        } else {
            None
        }
    }

    /// Checks one sample on its own: every component finite and within the plausible physical range.
    #[inline]
    pub fn check_values(&self) -> Result<(), SampleError> {
        check_parts(&self.accel, self.gyro.as_ref())
    }
}

/// Checks an accelerometer vector and an optional gyroscope vector. The common case (all valid) is a few
/// comparisons inline; what exactly is wrong is worked out out of line, only on failure.
#[inline]
pub(crate) fn check_parts(accel: &Vector3<f32>, gyro: Option<&Vector3<f32>>) -> Result<(), SampleError> {
    let gyro_ok = match gyro {
        Some(g) => within(g, MAX_GYRO_RADS),
        None => true,
    };
    if within(accel, MAX_ACCEL_MS2) & gyro_ok {
        Ok(())
    } else {
        Err(diagnose(accel, gyro))
    }
}

/// Whether every component is finite and at most `max` (a positive finite bound) in magnitude. Compared as bit
/// patterns with the sign cleared: for non-negative IEEE 754 floats the bit patterns order like the values, and
/// infinity and every NaN pattern lie above every finite value, so one integer maximum and one comparison decide
/// it with no branch (this runs once or twice per input sample).
#[inline(always)]
fn within(v: &Vector3<f32>, max: f32) -> bool {
    const MAGNITUDE: u32 = 0x7fff_ffff;
    let largest = (v.x.to_bits() & MAGNITUDE).max(v.y.to_bits() & MAGNITUDE).max(v.z.to_bits() & MAGNITUDE);
    largest <= max.to_bits()
}

/// The error for a sample [`check_parts`] refused: the first bad component, accelerometer before gyroscope.
#[cold]
#[inline(never)]
fn diagnose(accel: &Vector3<f32>, gyro: Option<&Vector3<f32>>) -> SampleError {
    let vectors = [(Some(accel), SampleField::Accel, MAX_ACCEL_MS2), (gyro, SampleField::Gyro, MAX_GYRO_RADS)];
    for (v, field, max) in vectors {
        for (axis, &x) in v.into_iter().flat_map(|v| v.iter()).enumerate() {
            if !x.is_finite() {
                return SampleError::NotFinite { field, axis: AXES[axis] };
            }
            if x.abs() > max {
                return SampleError::Implausible { field, axis: AXES[axis] };
            }
        }
    }
    // Unreachable for a vector `within` refused; reported as a non-finite accelerometer rather than accepted.
    SampleError::NotFinite { field: SampleField::Accel, axis: AXES[0] }
}

const AXES: [char; 3] = ['x', 'y', 'z'];

/// Which part of a sample an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleField {
    /// The accelerometer vector.
    Accel,
    /// The gyroscope vector.
    Gyro,
    /// The timestamp.
    Time,
}

impl std::fmt::Display for SampleField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SampleField::Accel => "accelerometer",
            SampleField::Gyro => "gyroscope",
            SampleField::Time => "timestamp",
        })
    }
}

/// Why a sample was refused. Carries no sensor values (safe to log on the live path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// A component is NaN or infinite.
    #[error("{field} {axis} is not a finite number")]
    NotFinite {
        /// Which vector.
        field: SampleField,
        /// Which axis.
        axis: char,
    },
    /// A component is beyond what any phone sensor reports (e.g. > 16 g, or raw counts instead of m/s^2).
    #[error("{field} {axis} is beyond the plausible range for m/s^2 or rad/s (wrong units?)")]
    Implausible {
        /// Which vector.
        field: SampleField,
        /// Which axis.
        axis: char,
    },
    /// The timestamp is earlier than the previous sample's.
    #[error("timestamp went backwards")]
    TimeBackwards,
    /// The timestamp equals the previous sample's.
    #[error("timestamp repeats the previous sample's")]
    TimeRepeated,
    /// The sample would be the 61st within one 50-ms period: input faster than 1200 Hz, which no phone sensor
    /// delivers. Most often the timestamps are not in nanoseconds (microseconds or milliseconds read as nanoseconds
    /// make a 50 Hz stream 50 kHz or 50 MHz, whose windows would take minutes or days to fill). The sample is not
    /// taken.
    #[error("more than 60 samples within 50 ms (over 1200 Hz): are the timestamps in nanoseconds?")]
    TooFast,
}

/// What the classifier reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activity {
    /// Not moving (sitting, standing, lying, phone on a table).
    Still = 0,
    /// Walking, including stairs.
    Walking = 1,
    /// Running or jogging.
    Running = 2,
    /// Riding a vehicle: car, bus, train, metro (including its stops).
    Transit = 3,
    /// No confident decision (too little data, or an activity outside the four).
    Unknown = 4,
}

impl Activity {
    /// The four activities the model scores, in class-index order.
    pub const CLASSES: [Activity; 4] = [Activity::Still, Activity::Walking, Activity::Running, Activity::Transit];

    /// Lower-case name, as used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Activity::Still => "still",
            Activity::Walking => "walking",
            Activity::Running => "running",
            Activity::Transit => "transit",
            Activity::Unknown => "unknown",
        }
    }

    /// The class index 0..4 for the four scored activities, `None` for `Unknown`.
    pub fn class_index(self) -> Option<usize> {
        match self {
            Activity::Unknown => None,
            a => Some(a as usize),
        }
    }
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Ground truth attached to recorded samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Still.
    Still = 0,
    /// Walking (stairs included).
    Walking = 1,
    /// Running / jogging.
    Running = 2,
    /// In a vehicle.
    Transit = 3,
    /// Something else (postural transitions, sports, chores): must not be reported as a confident activity.
    Other = 4,
}

impl Label {
    /// All labels in index order.
    pub const ALL: [Label; 5] = [Label::Still, Label::Walking, Label::Running, Label::Transit, Label::Other];

    /// Lower-case name as used in the canonical trace CSV.
    pub fn name(self) -> &'static str {
        match self {
            Label::Still => "still",
            Label::Walking => "walking",
            Label::Running => "running",
            Label::Transit => "transit",
            Label::Other => "other",
        }
    }

    /// Parses a canonical label name.
    pub fn parse(s: &str) -> Option<Label> {
        Some(match s {
            "still" => Label::Still,
            "walking" => Label::Walking,
            "running" => Label::Running,
            "transit" => Label::Transit,
            "other" => Label::Other,
            _ => return None,
        })
    }

    /// The activity this label scores as, `None` for `Other`.
    pub fn activity(self) -> Option<Activity> {
        match self {
            Label::Still => Some(Activity::Still),
            Label::Walking => Some(Activity::Walking),
            Label::Running => Some(Activity::Running),
            Label::Transit => Some(Activity::Transit),
            Label::Other => None,
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nan_inf_and_absurd_values() {
        let mut s = Sample::accel(0, 0.0, 0.0, 9.8);
        assert!(s.check_values().is_ok());
        s.accel.y = f32::NAN;
        assert_eq!(s.check_values(), Err(SampleError::NotFinite { field: SampleField::Accel, axis: 'y' }));
        s.accel.y = f32::NEG_INFINITY;
        assert_eq!(s.check_values(), Err(SampleError::NotFinite { field: SampleField::Accel, axis: 'y' }));
        s.accel.y = 500.0;
        assert_eq!(s.check_values(), Err(SampleError::Implausible { field: SampleField::Accel, axis: 'y' }));
        let g = Sample::with_gyro(0, [0.0, 0.0, 9.8], [0.0, 0.0, 1e6]);
        assert_eq!(g.check_values(), Err(SampleError::Implausible { field: SampleField::Gyro, axis: 'z' }));
    }

    #[test]
    fn error_messages_carry_no_values() {
        let e = Sample::accel(0, 123.456e3, 0.0, 0.0).check_values().unwrap_err();
        let msg = e.to_string();
        assert!(!msg.contains("123"), "{msg}");
    }
}
