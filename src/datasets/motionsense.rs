//! `motionsense`: iPhone 6s in the front trouser pocket (QMUL MotionSense), 50 Hz, no timestamps.
//!
//! Reads `B_Accelerometer_data/<act>_<trial>/sub_N.csv(.gz)` (columns: unnamed 0-based index, `x,y,z`, in g, iOS
//! sign convention). Converted to Android's convention in m/s^2 by multiplying each axis by −9.80665 (a phone lying
//! face up then reads ≈ +9.8 on z). `t_ns = index × 20 ms`.
//!
//! **Accelerometer only.** `C_Gyroscope_data` is not paired: for the same trial the B file has 1.2–5 % more rows
//! than the gyroscope file (README), with no timestamps to align them, so pairing rows by index would put the
//! gyroscope up to several seconds off by the end of a 3-minute trial. `A_DeviceMotion_data` is skipped.
//!
//! Labels from the folder: `jog` → running, `wlk`/`ups`/`dws` → walking, `sit`/`std` → still; the first and last
//! [`HANDLING_S`] (1.5 s) of each file are unlabelled (phone going into / out of the pocket). Subject `subNN`,
//! session `<act>_<trial>`. Recordings of one subject whose stored file is byte-identical to an earlier one (in
//! activity, then trial-number order) are dropped and counted: subject 1's `sit_13` repeats `sit_5`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::io::{file_name, open_lines, parse_err, parse_f64, parse_i64, sorted_entries};
use super::{g_to_ms2, par_files, Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "motionsense";
/// Sample period, ns (50 Hz).
pub const PERIOD_NS: i64 = 20_000_000;
/// Seconds at each end of a file left unlabelled (pocket handling).
pub const HANDLING_S: f64 = 1.5;

/// Maps an activity folder prefix.
pub fn map_label(act: &str) -> Option<Label> {
    Some(match act {
        "jog" => Label::Running,
        "wlk" | "ups" | "dws" => Label::Walking,
        "sit" | "std" => Label::Still,
        _ => return None,
    })
}

/// Loads all B_Accelerometer files under `dir`; traces sorted by subject number, then activity, then trial number.
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

struct Item {
    subject: u32,
    act: String,
    trial: u32,
    path: PathBuf,
}

/// [`load`] plus a [`LoadReport`] (duplicates dropped are counted in `dropped_duplicate_recordings`).
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let root = dir.join("B_Accelerometer_data");
    let mut items = Vec::new();
    let mut report = LoadReport::default();
    for folder in sorted_entries(&root)? {
        if !folder.is_dir() {
            continue;
        }
        let fname = file_name(&folder).to_string();
        let Some((act, trial)) = fname.split_once('_') else { continue };
        if map_label(act).is_none() {
            return Err(ReadError::Layout { path: folder.display().to_string(), reason: "unknown activity".into() });
        }
        let Ok(trial) = trial.parse::<u32>() else {
            // Looks like a recording but does not parse (`wlk_7b/`): reported, not read.
            report.files_without_trace += 1;
            report.warn(format!("{}: trial number \"{trial}\" is not a number: folder skipped", folder.display()));
            continue;
        };
        for p in sorted_entries(&folder)? {
            let n = file_name(&p);
            let Some(num) = n.strip_prefix("sub_").and_then(|s| s.strip_suffix(".csv.gz").or(s.strip_suffix(".csv")))
            else {
                continue;
            };
            let Ok(subject) = num.parse::<u32>() else {
                report.files_without_trace += 1;
                report.warn(format!("{}: subject number \"{num}\" is not a number: file skipped", p.display()));
                continue;
            };
            items.push(Item { subject, act: act.to_string(), trial, path: p });
        }
    }
    if items.is_empty() {
        return Err(ReadError::Layout { path: root.display().to_string(), reason: "no sub_N.csv files".into() });
    }
    items.sort_by(|a, b| (a.subject, &a.act, a.trial).cmp(&(b.subject, &b.act, b.trial)));
    // Byte-identical recordings of one subject: keep the first.
    let mut seen: BTreeMap<(u32, [u8; 32]), String> = BTreeMap::new();
    let mut keep = Vec::with_capacity(items.len());
    for it in items {
        let bytes =
            std::fs::read(&it.path).map_err(|source| ReadError::Io { file: it.path.display().to_string(), source })?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let session = format!("{}_{}", it.act, it.trial);
        if let Some(first) = seen.get(&(it.subject, digest)) {
            report.dropped_duplicate_recordings += 1;
            report.warn(format!("{}: identical to {first} of the same subject: dropped", it.path.display()));
            continue;
        }
        seen.insert((it.subject, digest), session);
        keep.push(it);
    }
    let paths: Vec<PathBuf> = keep.iter().map(|i| i.path.clone()).collect();
    let by_path: BTreeMap<PathBuf, (u32, String, u32)> =
        keep.into_iter().map(|i| (i.path, (i.subject, i.act, i.trial))).collect();
    let (traces, r) = par_files(&paths, |p, _| {
        let Some((subject, act, trial)) = by_path.get(p) else { return Ok(Vec::new()) };
        Ok(vec![load_file(p, *subject, act, *trial)?])
    })?;
    report.merge(r);
    report.count_traces(&traces);
    Ok((traces, report))
}

/// Reads one `sub_N.csv(.gz)` accelerometer file.
pub fn load_file(path: &Path, subject: u32, act: &str, trial: u32) -> Result<Trace, ReadError> {
    let label = map_label(act).ok_or_else(|| ReadError::UnknownLabel {
        file: path.display().to_string(),
        line: 0,
        token: act.to_string(),
    })?;
    let mut lines = open_lines(path)?;
    let file = lines.file().to_string();
    match lines.next_line()? {
        None => return Err(ReadError::Empty { file }),
        Some(l) if l.text.trim() != ",x,y,z" => {
            return Err(ReadError::Header { file, line: 1, reason: "expected ,x,y,z".into() })
        }
        Some(_) => {}
    }
    let mut b = Builder::with_capacity(16_384);
    while let Some(l) = lines.next_line()? {
        if l.text.is_empty() {
            continue;
        }
        let f = l.fields(&file, 4)?;
        let idx = parse_i64(&file, l.no, "index", f[0])?;
        let t_ns = idx.checked_mul(PERIOD_NS).ok_or_else(|| parse_err(&file, l.no, "index", f[0], "as a row index"))?;
        let x = parse_f64(&file, l.no, "x", f[1])?;
        let y = parse_f64(&file, l.no, "y", f[2])?;
        let z = parse_f64(&file, l.no, "z", f[3])?;
        b.push_strict(Sample::accel(t_ns, g_to_ms2(-x), g_to_ms2(-y), g_to_ms2(-z)), Some(label), &file, l.no)?;
    }
    let (Some(first), Some(last)) = (b.first_t(), b.last_t()) else { return Err(ReadError::Empty { file }) };
    let margin = (HANDLING_S * 1e9) as i64;
    b.relabel(|t, l| if t < first.saturating_add(margin) || t > last.saturating_sub(margin) { None } else { l });
    Ok(b.finish(TraceMeta {
        dataset: NAME.into(),
        subject: format!("sub{subject:02}"),
        session: format!("{act}_{trial}"),
        source: file,
        gravity_removed: false,
    }))
}
