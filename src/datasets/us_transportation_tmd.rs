//! `us_transportation_tmd`: TMD raw Android sensor logs (University of Bologna), `raw/sensorfile_<user>_<Mode>_<epoch>.csv.gz`.
//!
//! One event per line, `time_ms,sensor_name,v1,v2,...` (ms since the start of the recording). The reader takes
//! `android.sensor.accelerometer` (m/s^2, gravity included) as the samples and `android.sensor.gyroscope` (rad/s)
//! as an optional companion: a sample gets the latest gyroscope event that lies at most
//! [`GYRO_MAX_AGE_NS`] (50 ms) before (or at) it, otherwise no gyroscope. Other sensors are ignored.
//!
//! Label from the file name: Bus/Car/Train → transit, Walking → walking, Still → still (whole file). Subject =
//! user name, session = `<Mode>_<epoch>`.
//!
//! Walking files are not walking throughout: five of them hold stretches in which the phone is at rest
//! (`AndreaCarpineti_Walking_1481124283415` for most of its length, QUIRKS.md). Carried by someone walking, a phone
//! reads a standard deviation of |a| over 5 s of 1-4 m/s^2 (the other walking files' medians are 1.1-3.9); at rest,
//! under 0.3. So in a Walking file an event is labelled walking only where |a| over the 5 s centred on it varies by at
//! least [`WALK_MIN_STD_MS2`]; elsewhere it is unlabelled (`None`: not learned from, not scored), not guessed as
//! still, since the file does not say what the person was doing. Where the 5 s hold fewer than
//! [`REST_MIN_EVENTS`] events the file's label stands. A correction of the ground truth decided on the signal alone,
//! as for the adeptdata run. Vehicle files keep their label through stops: a bus at a light is still a trip.
//!
//! Documented quirks, counted in the [`LoadReport`] rather than failing the dataset: an accelerometer or gyroscope
//! line whose time or value token does not parse (the `r2` line of `sensorfile_andrea_Train_1480530298390`) is
//! skipped; an accelerometer event whose time goes backwards is dropped, and one that repeats the previous time is
//! dropped (the later duplicate). A file with fewer than 2 accelerometer events yields no trace.

use std::path::Path;

use super::io::{check_time, file_name, open_lines, parse_decimal_scaled, sorted_entries};
use super::{par_files, Builder, LoadReport, MarkedSeconds, Pushed, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "us_transportation_tmd";
/// Oldest gyroscope event attached to an accelerometer sample, ns.
pub const GYRO_MAX_AGE_NS: i64 = 50_000_000;
/// Least standard deviation of |a| (m/s^2) over the 5 s around an event of a Walking file for it to be labelled
/// walking (see the module doc).
pub const WALK_MIN_STD_MS2: f64 = 0.5;
/// Fewest events in those 5 s for the rule to apply; with fewer the file's label stands.
pub const REST_MIN_EVENTS: u32 = 4;
const ACC: &str = "android.sensor.accelerometer";
const GYRO: &str = "android.sensor.gyroscope";

/// Maps a TMD mode name.
pub fn map_label(mode: &str) -> Option<Label> {
    Some(match mode {
        "Bus" | "Car" | "Train" => Label::Transit,
        "Walking" => Label::Walking,
        "Still" => Label::Still,
        _ => return None,
    })
}

/// `sensorfile_andrea_Train_1480530298390.csv.gz` -> (`andrea`, `Train`, `1480530298390`).
pub fn parse_file_name(name: &str) -> Option<(&str, &str, &str)> {
    let stem = name.strip_prefix("sensorfile_")?;
    let stem = stem.strip_suffix(".csv.gz").or_else(|| stem.strip_suffix(".csv"))?;
    let (rest, epoch) = stem.rsplit_once('_')?;
    let (user, mode) = rest.rsplit_once('_')?;
    (!user.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit())).then_some((user, mode, epoch))
}

/// Loads every `raw/sensorfile_*.csv[.gz]` under `dir`, one trace per file (files with < 2 accelerometer events
/// give none).
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let raw = dir.join("raw");
    let files: Vec<_> = sorted_entries(&raw)?.into_iter().filter(|p| parse_file_name(file_name(p)).is_some()).collect();
    if files.is_empty() {
        return Err(ReadError::Layout { path: raw.display().to_string(), reason: "no sensorfile_*.csv.gz".into() });
    }
    par_files(&files, |p, r| Ok(load_file(p, r)?.into_iter().collect()))
}

/// Reads one file; `None` when it has fewer than 2 accelerometer events.
pub fn load_file(path: &Path, report: &mut LoadReport) -> Result<Option<Trace>, ReadError> {
    let name = file_name(path);
    let (user, mode, epoch) = parse_file_name(name).ok_or_else(|| ReadError::Layout {
        path: path.display().to_string(),
        reason: "not sensorfile_<user>_<Mode>_<epoch>.csv".into(),
    })?;
    let label = map_label(mode).ok_or_else(|| ReadError::UnknownLabel {
        file: path.display().to_string(),
        line: 0,
        token: mode.to_string(),
    })?;
    let meta = TraceMeta {
        dataset: NAME.into(),
        subject: user.into(),
        session: format!("{mode}_{epoch}"),
        source: path.display().to_string(),
        gravity_removed: false,
    };
    let mut lines = open_lines(path)?;
    let file = lines.file().to_string();
    let mut b = Builder::with_capacity(4096);
    let mut gyro: Option<(i64, [f32; 3])> = None;
    while let Some(l) = lines.next_line()? {
        let mut it = l.text.split(',');
        let (Some(t_tok), Some(sensor)) = (it.next(), it.next()) else {
            // A line with no comma at all: truncated, unless blank.
            if !l.text.trim().is_empty() {
                report.skipped_lines += 1;
                report.warn(format!("{file}:{}: truncated line \"{}\": line skipped", l.no, l.text));
            }
            continue;
        };
        let is_acc = sensor == ACC;
        if !is_acc && sensor != GYRO {
            continue;
        }
        let t_ns = parse_decimal_scaled(t_tok, 6);
        let mut v = [0f32; 3];
        let mut ok = t_ns.is_some();
        for x in v.iter_mut() {
            match it.next().and_then(|s| s.trim().parse::<f32>().ok()).filter(|x| x.is_finite()) {
                Some(y) => *x = y,
                None => ok = false,
            }
        }
        let (Some(t_ns), true) = (t_ns, ok) else {
            report.skipped_lines += 1;
            report.warn(format!("{file}:{}: unparsable {sensor} event \"{}\": line skipped", l.no, l.text));
            continue;
        };
        let t_ns = check_time(&file, l.no, "time_ms", t_ns)?;
        if !is_acc {
            // Range-checked on its own line, so an absurd rate is reported where it is, not at the accelerometer
            // event it would have been attached to.
            Sample::with_gyro(t_ns, [0.0, 0.0, 0.0], v).check_values().map_err(|source| ReadError::InvalidSample {
                file: file.clone(),
                line: l.no,
                source,
            })?;
            if gyro.is_none_or(|(tg, _)| t_ns >= tg) {
                gyro = Some((t_ns, v));
            }
            continue;
        }
        let g = gyro.and_then(|(tg, g)| {
            (t_ns >= tg && t_ns.checked_sub(tg).is_some_and(|age| age <= GYRO_MAX_AGE_NS)).then_some(g)
        });
        let s = match g {
            Some(g) => Sample::with_gyro(t_ns, v, g),
            None => Sample::accel(t_ns, v[0], v[1], v[2]),
        };
        if b.push_monotonic(s, Some(label), &file, l.no, report)? == Pushed::Repeated {
            report.warn(format!("{file}:{}: repeated accelerometer time: later event dropped", l.no));
        }
    }
    if b.len() < 2 {
        report.warn(format!("{file}: {} accelerometer event(s): no trace", b.len()));
        return Ok(None);
    }
    if label == Label::Walking {
        let rest = rest_seconds(b.samples());
        b.relabel(|t, l| l.filter(|_| !rest.contains(t)));
    }
    Ok(Some(b.finish(meta)))
}

/// The whole seconds (from the first event) of a trace in which the phone is at rest: the 5 s centred on the second
/// hold at least [`REST_MIN_EVENTS`] events and |a| varies by less than [`WALK_MIN_STD_MS2`] over them.
pub fn rest_seconds(samples: &[Sample]) -> MarkedSeconds {
    super::seconds_by_magnitude_spread(samples, 2, REST_MIN_EVENTS, |m| m, |std| std < WALK_MIN_STD_MS2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` events at `hz` from `t0_s`, |a| = 9.8 plus `amp` times a 2-Hz sine (a gait-like bounce; 0 is rest).
    fn events(t0_s: f64, secs: f64, hz: f64, amp: f32) -> Vec<Sample> {
        (0..(secs * hz) as i64)
            .map(|i| {
                let t = t0_s + i as f64 / hz;
                let z = 9.8 + amp * (2.0 * std::f64::consts::PI * 2.0 * t + 0.3).sin() as f32;
                Sample::accel((t * 1e9) as i64, 0.0, 0.0, z)
            })
            .collect()
    }

    #[test]
    fn rest_inside_a_walk_is_found_and_sparse_stretches_are_left_alone() {
        // 20 s of walking at 3 Hz (a TMD-like rate), 20 s of rest, 20 s of walking.
        let mut s = events(0.0, 20.0, 3.0, 2.0);
        s.extend(events(20.0, 20.0, 3.0, 0.0));
        s.extend(events(40.0, 20.0, 3.0, 2.0));
        let rest = rest_seconds(&s);
        // The rest seconds whose 5-s neighbourhood lies inside the rest are found; none of the walking ones.
        assert!((23..=36).all(|k| rest.seconds.contains(&k)), "{rest:?}");
        assert!(rest.seconds.iter().all(|k| (18..=41).contains(k)), "{rest:?}");
        // Too few events to tell (0.5 Hz: under 4 in 5 s): nothing is declared rest.
        assert!(rest_seconds(&events(0.0, 60.0, 0.5, 0.0)).seconds.is_empty());
        // A gentle walk (std of |a| about 0.7 m/s^2) is still walking.
        assert!(rest_seconds(&events(0.0, 30.0, 10.0, 1.0)).seconds.is_empty());
    }
}
