//! The canonical trace CSV: reader and writer.
//!
//! ```text
//! # motiongate trace v1
//! # dataset: hapt_kcc2020
//! # subject: user01
//! # session: rec1
//! # source: ../shared/data/hapt_kcc2020/user01_rec1.csv.gz
//! # gravity_removed: false
//! t,ax,ay,az,gx,gy,gz,label
//! 0.02,9.0031,-1.103,4.9987,-0.055,-0.0696,-0.0308,still
//! ```
//!
//! - Header `t,ax,ay,az[,gx,gy,gz][,label]` (exactly these names in this order).
//! - `t`: seconds, strictly increasing, at most 2^62 ns (about 146 years) from zero either way. The writer prints the exact integer split `secs.nanos` (trailing zeros
//!   trimmed), so reading what was written gives back the same nanosecond.
//! - `ax,ay,az`: m/s^2 including gravity; `gx,gy,gz`: rad/s, all three present or all three empty (no gyroscope
//!   for that row). Values are written as the shortest text that reads back to the same `f32`.
//! - `label`: `still, walking, running, transit, other`, or empty (unlabelled row).
//! - Lines starting with `#` are comments. `# key: value` comments before the header carry [`TraceMeta`] fields
//!   (`dataset`, `subject`, `session`, `source`, `gravity_removed`); the writer emits them so a round trip keeps
//!   the metadata. Without them the reader uses dataset `trace` and the file stem as subject and session.
//!
//! The reader is strict: any bad token, non-finite or implausible value, time that does not increase, wrong column
//! count, truncated last line, non-UTF-8 byte or line over [`MAX_LINE_BYTES`] is a typed [`ReadError`] naming file,
//! line and field. A trace of [`MIN_SAMPLES_FOR_RATE_CHECK`] samples or more whose median interval between samples
//! is outside 1 ms..=1 s (a rate outside 1..=1000 Hz) is refused too ([`ReadError::ImplausibleRate`]): its times are
//! almost surely in another unit than seconds. So is acceleration that reads as gravity in g
//! ([`ReadError::AccelerationInG`], [`check_acceleration_unit`]) and a gyroscope that contradicts the accelerometer,
//! as rates in deg/s do ([`ReadError::GyroscopeContradictsAccelerometer`], [`check_gyroscope_unit`]). Gaps are kept
//! (the median ignores them). A last line without a line end is refused as possibly cut short
//! ([`ReadError::Truncated`]): a number or label cut in the middle still parses.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::sample::{Label, Sample, MAX_ACCEL_MS2, MAX_GYRO_RADS};
use crate::trace::{Trace, TraceMeta};

pub use crate::datasets::io::MAX_LINE_BYTES;
use crate::datasets::io::{check_time, open, parse_decimal_scaled, parse_err, Lines};
pub use crate::datasets::ReadError;

/// First line the writer emits (a comment, ignored by readers).
pub const MAGIC_COMMENT: &str = "# motiongate trace v1";

const BASE_COLS: [&str; 4] = ["t", "ax", "ay", "az"];
const GYRO_COLS: [&str; 3] = ["gx", "gy", "gz"];

/// Columns of a canonical header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// The file has `gx,gy,gz`.
    pub gyro: bool,
    /// The file has `label`.
    pub label: bool,
}

impl Columns {
    /// Number of fields per row.
    pub fn count(self) -> usize {
        4 + if self.gyro { 3 } else { 0 } + usize::from(self.label)
    }

    /// The header line (without line end).
    pub fn header(self) -> String {
        let mut cols: Vec<&str> = BASE_COLS.to_vec();
        if self.gyro {
            cols.extend(GYRO_COLS);
        }
        if self.label {
            cols.push("label");
        }
        cols.join(",")
    }
}

/// Parses a header line; `None` when it is not a canonical header.
pub fn parse_header(line: &str) -> Option<Columns> {
    let cols: Vec<&str> = line.split(',').map(str::trim).collect();
    if cols.len() < 4 || cols[..4] != BASE_COLS {
        return None;
    }
    let rest = &cols[4..];
    match rest {
        [] => Some(Columns { gyro: false, label: false }),
        ["label"] => Some(Columns { gyro: false, label: true }),
        ["gx", "gy", "gz"] => Some(Columns { gyro: true, label: false }),
        ["gx", "gy", "gz", "label"] => Some(Columns { gyro: true, label: true }),
        _ => None,
    }
}

/// Formats nanoseconds as exact decimal seconds (`-1.5`, `0.000000001`, `12`).
pub fn format_time_ns(t_ns: i64) -> String {
    let abs = t_ns.unsigned_abs();
    let secs = abs / 1_000_000_000;
    let nanos = abs % 1_000_000_000;
    let sign = if t_ns < 0 { "-" } else { "" };
    if nanos == 0 {
        format!("{sign}{secs}")
    } else {
        let frac = format!("{nanos:09}");
        format!("{sign}{secs}.{}", frac.trim_end_matches('0'))
    }
}

/// Parses decimal seconds to nanoseconds, exactly for plain decimals (rounded beyond 9 decimals).
pub fn parse_time_ns(token: &str) -> Option<i64> {
    parse_decimal_scaled(token, 9)
}

/// Rounds `x` to `decimals` decimal places (used to write compact files; the file then reads back to exactly the
/// rounded value).
pub fn quantize(x: f32, decimals: u8) -> f32 {
    let p = 10f64.powi(i32::from(decimals));
    ((f64::from(x) * p).round() / p) as f32
}

/// Options of [`write_trace_csv_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Round acceleration to this many decimals before writing (`None`: exact shortest `f32` text).
    pub accel_decimals: Option<u8>,
    /// Round angular rate to this many decimals before writing (`None`: exact).
    pub gyro_decimals: Option<u8>,
    /// Write a `gx,gy,gz` column even when no sample has a gyroscope reading.
    pub force_gyro_columns: bool,
}

/// Writes `trace` as canonical CSV with exact values. See [`write_trace_csv_with`].
pub fn write_trace_csv<W: Write>(trace: &Trace, writer: W) -> std::io::Result<()> {
    write_trace_csv_with(trace, writer, &WriteOptions::default())
}

fn meta_value(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Writes `trace` as canonical CSV: the meta comments, the header (gyro columns when any sample has a gyroscope
/// reading, label column when the trace is labelled), then one row per sample.
///
/// Meta values are written on one line each (line ends inside a value become spaces).
pub fn write_trace_csv_with<W: Write>(trace: &Trace, writer: W, opts: &WriteOptions) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(writer);
    let m = &trace.meta;
    writeln!(w, "{MAGIC_COMMENT}")?;
    writeln!(w, "# dataset: {}", meta_value(&m.dataset))?;
    writeln!(w, "# subject: {}", meta_value(&m.subject))?;
    writeln!(w, "# session: {}", meta_value(&m.session))?;
    writeln!(w, "# source: {}", meta_value(&m.source))?;
    writeln!(w, "# gravity_removed: {}", m.gravity_removed)?;
    let cols = Columns {
        gyro: opts.force_gyro_columns || trace.samples.iter().any(|s| s.gyro.is_some()),
        label: trace.is_labelled(),
    };
    writeln!(w, "{}", cols.header())?;
    let qa = |x: f32| opts.accel_decimals.map_or(x, |d| quantize(x, d));
    let qg = |x: f32| opts.gyro_decimals.map_or(x, |d| quantize(x, d));
    let mut line = String::with_capacity(128);
    for (i, s) in trace.samples.iter().enumerate() {
        use std::fmt::Write as _;
        line.clear();
        line.push_str(&format_time_ns(s.t_ns));
        for v in s.accel.iter() {
            let _ = write!(line, ",{}", qa(*v));
        }
        if cols.gyro {
            match &s.gyro {
                Some(g) => {
                    for v in g.iter() {
                        let _ = write!(line, ",{}", qg(*v));
                    }
                }
                None => line.push_str(",,,"),
            }
        }
        if cols.label {
            line.push(',');
            if let Some(Some(l)) = trace.labels.get(i) {
                line.push_str(l.name());
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

/// Reads a canonical trace CSV file (`.csv`, or `.csv.gz` decompressed on the fly).
pub fn read_trace_csv(path: &Path) -> Result<Trace, ReadError> {
    read_trace_csv_from(open(path)?, &path.display().to_string())
}

fn file_stem(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("trace");
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.strip_suffix(".csv").unwrap_or(name).to_string()
}

/// How far [`has_canonical_header`] reads past comments and blank lines before it gives up.
const SNIFF_BYTES: usize = 1 << 20;

/// True when the first line that is not a comment is a canonical header (cheap sniffing for discovery: reads past
/// the comments, however many lines they take, but no more than 1 MiB of them).
pub fn has_canonical_header(path: &Path) -> Result<bool, ReadError> {
    let mut lines = Lines::new(open(path)?, path.display().to_string());
    let mut read = 0usize;
    while read <= SNIFF_BYTES {
        match lines.next_line() {
            Ok(Some(l)) => {
                if l.text.starts_with('#') || l.text.trim().is_empty() {
                    read += l.text.len() + 1;
                    continue;
                }
                return Ok(parse_header(l.text).is_some());
            }
            Ok(None) => return Ok(false),
            Err(ReadError::NotUtf8 { .. }) | Err(ReadError::LineTooLong { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Reads canonical trace CSV from any buffered reader; `name` names the input in errors and in
/// [`TraceMeta::source`] (unless a `# source:` comment says otherwise). A missing or empty subject or session
/// becomes the file stem of `name` (so a meta value written empty does not round-trip).
pub fn read_trace_csv_from<R: BufRead>(reader: R, name: &str) -> Result<Trace, ReadError> {
    let mut lines = Lines::new(reader, name.to_string());
    let mut meta = TraceMeta {
        dataset: "trace".to_string(),
        subject: String::new(),
        session: String::new(),
        source: name.to_string(),
        gravity_removed: false,
    };
    // Header (meta comments before it).
    let cols = loop {
        let Some(l) = lines.next_line()? else {
            return Err(ReadError::Empty { file: name.to_string() });
        };
        let text = l.text;
        if let Some(c) = text.strip_prefix('#') {
            if let Some((k, v)) = c.split_once(':') {
                let v = v.trim();
                match k.trim() {
                    "dataset" => meta.dataset = v.to_string(),
                    "subject" => meta.subject = v.to_string(),
                    "session" => meta.session = v.to_string(),
                    "source" => meta.source = v.to_string(),
                    "gravity_removed" => {
                        meta.gravity_removed = match v {
                            "true" => true,
                            "false" => false,
                            _ => return Err(parse_err(name, l.no, "gravity_removed", v, "as true or false")),
                        }
                    }
                    _ => {}
                }
            }
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        match parse_header(text) {
            Some(c) => break c,
            None => {
                return Err(ReadError::Header {
                    file: name.to_string(),
                    line: l.no,
                    reason: format!(
                        "expected t,ax,ay,az[,gx,gy,gz][,label], found \"{}\"",
                        crate::datasets::error::cut_token(text)
                    ),
                })
            }
        }
    };
    let expected = cols.count();
    let mut samples = Vec::new();
    let mut labels = Vec::new();
    let mut last_t: Option<i64> = None;
    while let Some(l) = lines.next_line()? {
        let (no, text) = (l.no, l.text);
        if text.starts_with('#') || text.trim().is_empty() {
            continue;
        }
        let mut fields: [&str; 8] = [""; 8];
        let mut nf = 0usize;
        for (i, part) in text.split(',').enumerate() {
            if let Some(slot) = fields.get_mut(i) {
                *slot = part;
            }
            nf += 1;
        }
        if nf != expected {
            return Err(ReadError::ColumnCount { file: name.to_string(), line: no, expected, found: nf });
        }
        let t_tok = fields[0].trim();
        let t_ns = parse_time_ns(t_tok).ok_or_else(|| parse_err(name, no, "t", t_tok, "as seconds"))?;
        let t_ns = check_time(name, no, "t", t_ns)?;
        if let Some(prev) = last_t {
            if t_ns < prev {
                return Err(ReadError::TimeBackwards { file: name.to_string(), line: no });
            }
            if t_ns == prev {
                return Err(ReadError::TimeRepeated { file: name.to_string(), line: no });
            }
        }
        last_t = Some(t_ns);
        let mut accel = [0f32; 3];
        for (k, a) in accel.iter_mut().enumerate() {
            *a = parse_value(name, no, BASE_COLS[k + 1], fields[k + 1], MAX_ACCEL_MS2)?;
        }
        let mut gyro = None;
        if cols.gyro {
            let g_tok = &fields[4..7];
            let empty = g_tok.iter().filter(|t| t.trim().is_empty()).count();
            if empty == 0 {
                let mut g = [0f32; 3];
                for (k, v) in g.iter_mut().enumerate() {
                    *v = parse_value(name, no, GYRO_COLS[k], g_tok[k], MAX_GYRO_RADS)?;
                }
                gyro = Some(g);
            } else if empty != 3 {
                let k = g_tok.iter().position(|t| t.trim().is_empty()).unwrap_or(0);
                return Err(parse_err(name, no, GYRO_COLS[k], g_tok[k], "(gx,gy,gz must be all present or all empty)"));
            }
        }
        if cols.label {
            let tok = fields[expected - 1].trim();
            let label = if tok.is_empty() {
                None
            } else {
                Some(Label::parse(tok).ok_or_else(|| ReadError::UnknownLabel {
                    file: name.to_string(),
                    line: no,
                    token: crate::datasets::error::cut_token(tok),
                })?)
            };
            labels.push(label);
        }
        samples.push(match gyro {
            Some(g) => Sample::with_gyro(t_ns, accel, g),
            None => Sample::accel(t_ns, accel[0], accel[1], accel[2]),
        });
    }
    if samples.is_empty() {
        return Err(ReadError::Empty { file: name.to_string() });
    }
    check_rate(name, &samples)?;
    check_acceleration_unit(name, &samples)?;
    check_gyroscope_unit(name, &samples)?;
    if meta.subject.is_empty() {
        meta.subject = file_stem(Path::new(name));
    }
    if meta.session.is_empty() {
        meta.session = file_stem(Path::new(name));
    }
    Ok(Trace { meta, samples, labels })
}

/// Shortest median interval between samples the reader accepts, ns (1 ms: 1000 Hz).
pub const MIN_MEDIAN_INTERVAL_NS: i64 = 1_000_000;
/// Longest median interval between samples the reader accepts, ns (1 s: 1 Hz).
pub const MAX_MEDIAN_INTERVAL_NS: i64 = 1_000_000_000;
/// Fewest samples for which the median interval is judged: with three intervals or more one gap cannot be the
/// median; shorter traces hold no 5-s window at any accepted rate's worth of evidence anyway.
pub const MIN_SAMPLES_FOR_RATE_CHECK: usize = 4;

/// The median interval between consecutive samples, ns (the lower median for an even count; `None` for fewer than
/// two samples). Samples must be in increasing time, as the reader guarantees.
pub fn median_interval_ns(samples: &[Sample]) -> Option<i64> {
    let mut d: Vec<i64> = samples.windows(2).map(|w| w[1].t_ns.saturating_sub(w[0].t_ns)).collect();
    if d.is_empty() {
        return None;
    }
    let mid = (d.len() - 1) / 2;
    Some(*d.select_nth_unstable(mid).1)
}

/// A trace whose median interval lies outside [`MIN_MEDIAN_INTERVAL_NS`]..=[`MAX_MEDIAN_INTERVAL_NS`] (a rate
/// outside 1..=1000 Hz) was almost surely written in the wrong time unit (e.g. milliseconds as seconds): refused
/// rather than read into a trace whose every interval is a gap and which yields no window.
fn check_rate(name: &str, samples: &[Sample]) -> Result<(), ReadError> {
    if samples.len() < MIN_SAMPLES_FOR_RATE_CHECK {
        return Ok(());
    }
    match median_interval_ns(samples) {
        Some(m) if !(MIN_MEDIAN_INTERVAL_NS..=MAX_MEDIAN_INTERVAL_NS).contains(&m) => {
            Err(ReadError::ImplausibleRate { file: name.to_string(), median_interval_ns: m })
        }
        _ => Ok(()),
    }
}

/// Fewest whole seconds over which a trace's acceleration unit is judged ([`check_acceleration_unit`]).
pub const MIN_SECONDS_FOR_UNIT_CHECK: usize = 10;

/// A trace whose acceleration reads as gravity in g (iOS's CoreMotion unit) rather than m/s^2 is refused
/// ([`ReadError::AccelerationInG`]) rather than read into windows the pipeline would refuse one by one: over the
/// trace's whole seconds (at least [`MIN_SECONDS_FOR_UNIT_CHECK`]), the mean acceleration is never gravity in m/s^2
/// nor near 0 (a source of linear acceleration returns there between manoeuvres, see
/// [`crate::pipeline::RefusalCheck`]), and is about 1 in at least half of them.
pub fn check_acceleration_unit(name: &str, samples: &[Sample]) -> Result<(), ReadError> {
    use crate::sample::{SLOW_NORM_OF_GRAVITY, SLOW_NORM_OF_G_UNITS};
    let Some(t0) = samples.first().map(|s| s.t_ns) else { return Ok(()) };
    let second = |s: &Sample| s.t_ns.saturating_sub(t0) / 1_000_000_000;
    let mut norms: Vec<f32> = samples
        .chunk_by(|a, b| second(a) == second(b))
        .map(|c| {
            (c.iter().map(|s| s.accel.cast::<f64>()).sum::<nalgebra::Vector3<f64>>() / c.len() as f64).norm() as f32
        })
        .collect();
    // The last second is whole only if the trace reaches its end; a partial one is left out.
    norms.pop();
    let seconds = norms.len();
    let seconds_in_g = norms.iter().filter(|n| SLOW_NORM_OF_G_UNITS.contains(n)).count();
    let other_sources =
        norms.iter().any(|n| SLOW_NORM_OF_GRAVITY.contains(n) || *n <= crate::pipeline::LINEAR_SLOW_NORM_MAX);
    if seconds >= MIN_SECONDS_FOR_UNIT_CHECK && !other_sources && seconds_in_g * 2 >= seconds {
        return Err(ReadError::AccelerationInG { file: name.to_string(), seconds_in_g, seconds });
    }
    Ok(())
}

/// Fewest pairs of consecutive whole seconds over which a trace's gyroscope is judged against its accelerometer
/// ([`check_gyroscope_unit`]).
pub const MIN_SECOND_PAIRS_FOR_GYRO_CHECK: usize = 10;
/// How many times worse than no rotation at all the gyroscope's rotation must predict gravity's direction before a
/// trace is refused ([`check_gyroscope_unit`]). Measured over every trace with a gyroscope in `../shared/data`, as
/// recorded and with its rates multiplied by 180/pi (read as deg/s): rad/s at most 2.2 (a 10-s watch trace of
/// sp_sw_har; HAPT at most 1.3), deg/s at least 2.9 (the same kind of trace; HAPT at least 12).
pub const GYRO_CONTRADICTION_RATIO: f64 = 2.5;
/// Least total error, radians, by which the gyroscope's prediction must exceed no rotation's before a trace is refused
/// ([`check_gyroscope_unit`]): a short trace with little tilt is not condemned on noise. Over the same traces: rad/s
/// at most 3.2, deg/s at least 8.0.
pub const GYRO_CONTRADICTION_MIN_RAD: f64 = 5.0;

/// How well a trace's gyroscope explains the tilt its accelerometer sees ([`gyroscope_agreement`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GyroscopeAgreement {
    /// Pairs of consecutive whole seconds compared: both hold gravity (the mean acceleration's magnitude is gravity's
    /// in m/s^2) and a gyroscope reading on every sample.
    pub second_pairs: usize,
    /// Total angle, radians, between gravity's direction in the second of each pair and the direction of the first
    /// turned by the rotation the gyroscope reports between the two seconds' middles.
    pub error_turned_rad: f64,
    /// The same total without turning: how far gravity's direction moved.
    pub error_unturned_rad: f64,
}

/// Compares a trace's gyroscope with its accelerometer: over each pair of consecutive whole seconds, gravity's
/// direction (the second's mean acceleration) in the first second, turned by the rotation the gyroscope reports from
/// the middle of the first second to the middle of the next, should land on gravity's direction in the next; without
/// a turn it lands where the phone did not move. A gyroscope in rad/s in the accelerometer's axes lands closer than no
/// turn at all (about 0.7 times its error on these recordings); one in deg/s read as rad/s turns 57 times too far.
/// Seconds without gravity (a source of linear acceleration) or without a gyroscope reading on every sample are
/// skipped, so such traces are not judged.
pub fn gyroscope_agreement(samples: &[Sample]) -> GyroscopeAgreement {
    use nalgebra::{Rotation3, Vector3};
    let mut agreement = GyroscopeAgreement { second_pairs: 0, error_turned_rad: 0.0, error_unturned_rad: 0.0 };
    let Some(t0) = samples.first().map(|s| s.t_ns) else { return agreement };
    let second = |s: &Sample| s.t_ns.saturating_sub(t0) / 1_000_000_000;
    let gravity_direction = |c: &[Sample]| -> Option<Vector3<f64>> {
        let mean = c.iter().map(|s| s.accel.cast::<f64>()).sum::<Vector3<f64>>() / c.len() as f64;
        crate::sample::SLOW_NORM_OF_GRAVITY.contains(&(mean.norm() as f32)).then(|| mean.normalize())
    };
    let angle = |a: &Vector3<f64>, b: &Vector3<f64>| a.dot(b).clamp(-1.0, 1.0).acos();
    let seconds: Vec<&[Sample]> = samples.chunk_by(|a, b| second(a) == second(b)).collect();
    for pair in seconds.windows(2) {
        let [first, next] = pair else { continue };
        let (Some(a), Some(b)) = (first.first(), next.first()) else { continue };
        if second(b) != second(a) + 1 || first.iter().chain(next.iter()).any(|s| s.gyro.is_none()) {
            continue;
        }
        let (Some(up_first), Some(up_next)) = (gravity_direction(first), gravity_direction(next)) else { continue };
        // From the middle of the first second to the middle of the next; each reading holds until the next sample.
        let from = t0.saturating_add(second(a).saturating_mul(1_000_000_000)).saturating_add(500_000_000);
        let to = from.saturating_add(1_000_000_000);
        let mut turned = up_first;
        let mut both = first.iter().chain(next.iter()).peekable();
        while let Some(s) = both.next() {
            let until = both.peek().map_or(to, |n| n.t_ns).min(to);
            let since = s.t_ns.max(from);
            if let (Some(rate), true) = (s.gyro, until > since) {
                // A world-fixed vector in device axes turns by the inverse of the device's rotation.
                turned = Rotation3::new(-rate.cast::<f64>() * ((until - since) as f64 * 1e-9)) * turned;
            }
        }
        agreement.second_pairs += 1;
        agreement.error_turned_rad += angle(&turned, &up_next);
        agreement.error_unturned_rad += angle(&up_first, &up_next);
    }
    agreement
}

/// A trace whose gyroscope contradicts its accelerometer is refused ([`ReadError::GyroscopeContradictsAccelerometer`])
/// rather than fused into a gravity estimate the gyroscope spins away: over at least
/// [`MIN_SECOND_PAIRS_FOR_GYRO_CHECK`] pairs of seconds ([`gyroscope_agreement`]), turning gravity's direction by the
/// reported rotation misses by [`GYRO_CONTRADICTION_RATIO`] times, and [`GYRO_CONTRADICTION_MIN_RAD`] more than, not
/// turning it at all. Rates in deg/s (which some logging apps and IMUs write) do this; so does a gyroscope in other
/// axes or signs than the accelerometer's.
pub fn check_gyroscope_unit(name: &str, samples: &[Sample]) -> Result<(), ReadError> {
    let a = gyroscope_agreement(samples);
    if a.second_pairs >= MIN_SECOND_PAIRS_FOR_GYRO_CHECK
        && a.error_turned_rad >= GYRO_CONTRADICTION_RATIO * a.error_unturned_rad
        && a.error_turned_rad - a.error_unturned_rad >= GYRO_CONTRADICTION_MIN_RAD
    {
        return Err(ReadError::GyroscopeContradictsAccelerometer {
            file: name.to_string(),
            second_pairs: a.second_pairs,
            error_turned_rad: a.error_turned_rad,
            error_unturned_rad: a.error_unturned_rad,
        });
    }
    Ok(())
}

fn parse_value(file: &str, line: u64, field: &str, token: &str, max: f32) -> Result<f32, ReadError> {
    let t = token.trim();
    let v: f32 = t.parse().map_err(|_| parse_err(file, line, field, token, "as a number"))?;
    if !v.is_finite() {
        return Err(parse_err(file, line, field, token, "as a finite number"));
    }
    if v.abs() > max {
        let unit = if max == MAX_GYRO_RADS { "rad/s: in deg/s?" } else { "m/s^2" };
        return Err(parse_err(file, line, field, token, &format!("as a plausible value (|x| > {max} {unit})")));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_after_many_comment_lines_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let comments = "# a note\n".repeat(200);
        std::fs::write(&path, format!("{comments}t,ax,ay,az\n0,0,0,9.8\n")).unwrap();
        assert!(has_canonical_header(&path).unwrap());
        std::fs::write(&path, format!("{comments}time,x,y,z\n0,0,0,9.8\n")).unwrap();
        assert!(!has_canonical_header(&path).unwrap());
        // Comments alone, past the sniffing budget: not a trace, and not read to the end.
        std::fs::write(&path, "#\n".repeat(SNIFF_BYTES)).unwrap();
        assert!(!has_canonical_header(&path).unwrap());
    }

    #[test]
    fn time_text_round_trips() {
        for t in [0i64, 1, -1, 20_000_000, 1_540_490_250_010_000_000, i64::MAX, i64::MIN + 1, -999_999_999] {
            assert_eq!(parse_time_ns(&format_time_ns(t)), Some(t), "{t}");
        }
        assert_eq!(format_time_ns(1_500_000_000), "1.5");
        assert_eq!(format_time_ns(-20_000_000), "-0.02");
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header("t,ax,ay,az"), Some(Columns { gyro: false, label: false }));
        assert_eq!(parse_header("t,ax,ay,az,gx,gy,gz,label"), Some(Columns { gyro: true, label: true }));
        assert_eq!(parse_header("t,ax,ay,az,gx"), None);
        assert_eq!(parse_header("time,x,y,z"), None);
    }
}
