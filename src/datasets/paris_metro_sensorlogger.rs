//! `paris_metro_sensorlogger`: Paris Métro rides recorded with Sensor Logger on a Pixel 4 XL (EricCabrol/Metro).
//!
//! One folder per ride, one trace per ride: subject `eric`, session = folder name, every sample labelled transit.
//! Sensor Logger CSVs have columns `time,seconds_elapsed,z,y,x` (z,y,x order; the reader maps columns by header
//! name), `time` in ns since the Unix epoch, m/s^2. Which file is read, in order of preference:
//! 1. `AccelerometerUncalibrated.csv(.gz)`: gravity included, the highest rate of the gravity-included files
//!    (≈ 20 Hz where present, vs ≈ 18.5 Hz for `TotalAcceleration`);
//! 2. `TotalAcceleration.csv(.gz)`: gravity included;
//! 3. `Accelerometer.csv(.gz)`: gravity removed at the source ([`TraceMeta::gravity_removed`] = true).
//!
//! No gyroscope was recorded. Rows whose time repeats or goes backwards are dropped and counted.

use std::path::{Path, PathBuf};

use super::io::{file_name, open_lines, parse_decimal_scaled, parse_err, parse_f64, sorted_entries};
use super::{par_files, Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "paris_metro_sensorlogger";
/// Candidate files by preference, with whether gravity was removed.
pub const PREFERENCE: [(&str, bool); 3] =
    [("AccelerometerUncalibrated", false), ("TotalAcceleration", false), ("Accelerometer", true)];

/// The file a ride folder is read from, and whether its gravity was removed; `None` when it has none.
pub fn pick_file(ride: &Path) -> Option<(PathBuf, bool)> {
    for (stem, removed) in PREFERENCE {
        for ext in [".csv.gz", ".csv"] {
            let p = ride.join(format!("{stem}{ext}"));
            if p.is_file() {
                return Some((p, removed));
            }
        }
    }
    None
}

/// Loads every ride folder under `dir` (sorted by name).
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let rides: Vec<PathBuf> = sorted_entries(dir)?.into_iter().filter(|p| pick_file(p).is_some()).collect();
    if rides.is_empty() {
        return Err(ReadError::Layout { path: dir.display().to_string(), reason: "no ride folders".into() });
    }
    par_files(&rides, |p, r| Ok(vec![load_ride(p, r)?]))
}

/// Reads one ride folder.
pub fn load_ride(ride: &Path, report: &mut LoadReport) -> Result<Trace, ReadError> {
    let (path, gravity_removed) = pick_file(ride).ok_or_else(|| ReadError::Layout {
        path: ride.display().to_string(),
        reason: "no Accelerometer*.csv / TotalAcceleration.csv".into(),
    })?;
    let meta = TraceMeta {
        dataset: NAME.into(),
        subject: "eric".into(),
        session: file_name(ride).to_string(),
        source: path.display().to_string(),
        gravity_removed,
    };
    let mut lines = open_lines(&path)?;
    let file = lines.file().to_string();
    let Some(h) = lines.next_line()? else { return Err(ReadError::Empty { file }) };
    let cols: Vec<&str> = h.text.split(',').map(str::trim).collect();
    // A column named twice would leave it to chance which one is read.
    if let Some(twice) = cols.iter().enumerate().find(|(i, c)| cols[..*i].contains(c)).map(|(_, c)| *c) {
        return Err(ReadError::Header { file, line: 1, reason: format!("column {twice} appears more than once") });
    }
    let find = |n: &str| cols.iter().position(|c| *c == n);
    let (Some(ti), Some(xi), Some(yi), Some(zi)) = (find("time"), find("x"), find("y"), find("z")) else {
        return Err(ReadError::Header { file, line: 1, reason: "expected columns time, x, y, z".into() });
    };
    let n = cols.len();
    let mut b = Builder::with_capacity(32_768);
    while let Some(l) = lines.next_line()? {
        if l.text.is_empty() {
            continue;
        }
        let f = l.fields(&file, n)?;
        let t_ns = parse_decimal_scaled(f[ti], 0).ok_or_else(|| parse_err(&file, l.no, "time", f[ti], "as ns"))?;
        let x = parse_f64(&file, l.no, "x", f[xi])? as f32;
        let y = parse_f64(&file, l.no, "y", f[yi])? as f32;
        let z = parse_f64(&file, l.no, "z", f[zi])? as f32;
        b.push_monotonic(Sample::accel(t_ns, x, y, z), Some(Label::Transit), &file, l.no, report)?;
    }
    if b.len() == 0 {
        return Err(ReadError::Empty { file });
    }
    Ok(b.finish(meta))
}
