//! The one typed error of every offline reader (canonical trace CSV and dataset readers).
//!
//! Offline readers name the file, the 1-based line, the field and the offending token, so a message such as
//! `data/x.csv:17: field 'ay': cannot parse "1.2.3" as a number` says exactly what to fix. (This is the offline
//! path: recorded files, not live samples, so echoing a token is fine here.)

use crate::sample::SampleError;

/// Why a recorded file or dataset folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file or folder could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// File or folder path.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no data rows (empty, comments only, or a header without rows).
    #[error("{file}: no data rows")]
    Empty {
        /// File path.
        file: String,
    },
    /// The header line is missing or not the expected one.
    #[error("{file}:{line}: bad header: {reason}")]
    Header {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A field could not be parsed or holds an impossible value.
    #[error("{file}:{line}: field '{field}': cannot parse \"{token}\" {reason}")]
    Parse {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Column name (or position when the format has no header).
        field: String,
        /// The offending text (cut to 64 characters).
        token: String,
        /// Why it was refused, e.g. `as a number`.
        reason: String,
    },
    /// A row has the wrong number of fields.
    #[error("{file}:{line}: expected {expected} fields, found {found}")]
    ColumnCount {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Fields the header (or format) asks for.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// The file ends in the middle of a row or of its gzip stream.
    #[error("{file}:{line}: truncated: {reason}")]
    Truncated {
        /// File path.
        file: String,
        /// 1-based line number where the data stops.
        line: u64,
        /// What was cut (last line, gzip stream).
        reason: String,
    },
    /// A line is not valid UTF-8.
    #[error("{file}:{line}: not valid UTF-8")]
    NotUtf8 {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
    },
    /// A line is longer than the reader accepts (it stops before allocating more).
    #[error("{file}:{line}: line longer than {limit} bytes")]
    LineTooLong {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The time of a row is earlier than the previous row's.
    #[error("{file}:{line}: time goes backwards")]
    TimeBackwards {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
    },
    /// The time of a row equals the previous row's.
    #[error("{file}:{line}: time repeats the previous row's")]
    TimeRepeated {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
    },
    /// A time lies beyond [`crate::datasets::MAX_ABS_TIME_NS`] from the clock's zero (about 146 years), so that
    /// differences of two times could overflow; almost always a wrong unit or a corrupt token.
    #[error(
        "{file}:{line}: field '{field}': time {t_ns} ns is beyond +-2^62 ns (about 146 years) from the clock's zero"
    )]
    TimeOutOfRange {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Column name.
        field: String,
        /// The time read, ns.
        t_ns: i64,
    },
    /// The median interval between samples of a trace is outside 1 ms..=1 s (a rate outside 1..=1000 Hz): the times
    /// are almost surely in another unit than the format's (e.g. milliseconds written as seconds).
    #[error(
        "{file}: median interval between samples is {} s, a rate outside 1-1000 Hz: are the times in the wrong unit \
         (e.g. milliseconds or nanoseconds where seconds are expected)?",
        crate::trace::csv::format_time_ns(*median_interval_ns)
    )]
    ImplausibleRate {
        /// File path.
        file: String,
        /// The median interval, ns.
        median_interval_ns: i64,
    },
    /// The acceleration of a trace reads as gravity in g, not in m/s^2: over its whole seconds, the mean
    /// acceleration is never gravity in m/s^2 ([`crate::sample::SLOW_NORM_OF_GRAVITY`]) nor near 0 as linear
    /// acceleration would be ([`crate::pipeline::LINEAR_SLOW_NORM_MAX`]), and mostly about 1
    /// ([`crate::sample::SLOW_NORM_OF_G_UNITS`]).
    #[error(
        "{file}: acceleration is in g, not m/s^2: the mean acceleration of {seconds_in_g} of its {seconds} whole \
         seconds is about 1 (gravity reads 9.81 m/s^2) and of none is it gravity in m/s^2 or near 0; multiply ax, ay, \
         az by 9.80665 (iOS's CoreMotion reports g)"
    )]
    AccelerationInG {
        /// File path.
        file: String,
        /// Whole seconds whose mean acceleration is about 1.
        seconds_in_g: usize,
        /// Whole seconds of the trace.
        seconds: usize,
    },
    /// The gyroscope of a trace contradicts its accelerometer ([`crate::trace::csv::check_gyroscope_unit`]):
    /// gravity's direction turned by the rotation it reports misses the direction the accelerometer sees far more
    /// than not turning it at all. Most often rates in deg/s where rad/s are expected.
    #[error(
        "{file}: the gyroscope contradicts the accelerometer: turned by the rotation it reports, gravity's direction \
         misses the accelerometer's by {error_turned_rad:.1} rad in total over {second_pairs} pairs of seconds, \
         against {error_unturned_rad:.1} rad not turned at all; are gx, gy, gz in deg/s (they must be rad/s: divide \
         by 57.2958), or in other axes or signs than ax, ay, az?"
    )]
    GyroscopeContradictsAccelerometer {
        /// File path.
        file: String,
        /// Pairs of consecutive whole seconds compared.
        second_pairs: usize,
        /// Total miss, radians, of gravity's direction turned by the gyroscope.
        error_turned_rad: f64,
        /// Total miss, radians, of gravity's direction not turned.
        error_unturned_rad: f64,
    },
    /// A row parsed but the sample is not plausible (NaN, beyond the sensor range).
    #[error("{file}:{line}: invalid sample: {source}")]
    InvalidSample {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What [`crate::sample::Sample::check_values`] refused.
        #[source]
        source: SampleError,
    },
    /// A label that is not in the label set of the format.
    #[error("{file}:{line}: unknown label \"{token}\"")]
    UnknownLabel {
        /// File path.
        file: String,
        /// 1-based line number.
        line: u64,
        /// The label text (cut to 64 characters).
        token: String,
    },
    /// A dataset folder lacks the files or layout its reader expects.
    #[error("{path}: {reason}")]
    Layout {
        /// Folder or file path.
        path: String,
        /// What is missing or unexpected.
        reason: String,
    },
}

impl ReadError {
    /// The file (or folder) the error is about.
    pub fn file(&self) -> &str {
        match self {
            ReadError::Io { file, .. }
            | ReadError::Empty { file }
            | ReadError::Header { file, .. }
            | ReadError::Parse { file, .. }
            | ReadError::ColumnCount { file, .. }
            | ReadError::Truncated { file, .. }
            | ReadError::NotUtf8 { file, .. }
            | ReadError::LineTooLong { file, .. }
            | ReadError::TimeBackwards { file, .. }
            | ReadError::TimeRepeated { file, .. }
            | ReadError::TimeOutOfRange { file, .. }
            | ReadError::ImplausibleRate { file, .. }
            | ReadError::AccelerationInG { file, .. }
            | ReadError::GyroscopeContradictsAccelerometer { file, .. }
            | ReadError::InvalidSample { file, .. }
            | ReadError::UnknownLabel { file, .. } => file,
            ReadError::Layout { path, .. } => path,
        }
    }

    /// The 1-based line the error is about, when it is about one line.
    pub fn line(&self) -> Option<u64> {
        match self {
            ReadError::Header { line, .. }
            | ReadError::Parse { line, .. }
            | ReadError::ColumnCount { line, .. }
            | ReadError::Truncated { line, .. }
            | ReadError::NotUtf8 { line, .. }
            | ReadError::LineTooLong { line, .. }
            | ReadError::TimeBackwards { line, .. }
            | ReadError::TimeRepeated { line, .. }
            | ReadError::TimeOutOfRange { line, .. }
            | ReadError::InvalidSample { line, .. }
            | ReadError::UnknownLabel { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// Cuts a token for an error message (at most 64 characters, on a char boundary).
pub(crate) fn cut_token(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
