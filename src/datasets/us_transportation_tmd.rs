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
//! Documented quirks, counted in the [`LoadReport`] rather than failing the dataset: an accelerometer or gyroscope
//! line whose time or value token does not parse (the `r2` line of `sensorfile_andrea_Train_1480530298390`) is
//! skipped; an accelerometer event whose time goes backwards is dropped, and one that repeats the previous time is
//! dropped (the later duplicate). A file with fewer than 2 accelerometer events yields no trace.

use std::path::Path;

use super::io::{check_time, file_name, open_lines, parse_decimal_scaled, sorted_entries};
use super::{par_files, Builder, LoadReport, Pushed, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "us_transportation_tmd";
/// Oldest gyroscope event attached to an accelerometer sample, ns.
pub const GYRO_MAX_AGE_NS: i64 = 50_000_000;
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
        let (Some(t_tok), Some(sensor)) = (it.next(), it.next()) else { continue };
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
    Ok(Some(b.finish(meta)))
}
