//! `sp_sw_har`: smartphone + smartwatch executions (GeoTecINIT), `DATA/sNN/sNN_EE_{sp,sw}.csv.gz`.
//!
//! Columns `x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label`: m/s^2 with gravity, rad/s, Unix ms. The phone
//! (`_sp`) and watch (`_sw`) files are separate traces: subject `sNN`, session `EE_sp` / `EE_sw`. Rows whose
//! timestamp repeats the previous row's (≈ 8 % of phone rows) are dropped (the later one), rows going backwards too;
//! both are counted. Labels: WALKING, TURNING → walking; SEATED → still; STANDING_UP, SITTING_DOWN → other.

use std::path::{Path, PathBuf};

use super::io::{file_name, open_lines, parse_decimal_scaled, parse_err, parse_f64, sorted_entries};
use super::{par_files, Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "sp_sw_har";
const HEADER: &str = "x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label";
const FIELDS: [&str; 8] = ["x_acc", "y_acc", "z_acc", "x_gyro", "y_gyro", "z_gyro", "timestamp", "label"];

/// Maps a sp-sw-har label.
pub fn map_label(s: &str) -> Option<Label> {
    Some(match s {
        "WALKING" | "TURNING" => Label::Walking,
        "SEATED" => Label::Still,
        "STANDING_UP" | "SITTING_DOWN" => Label::Other,
        _ => return None,
    })
}

/// `s01_02_sp.csv.gz` -> (`s01`, `02`, `sp`).
pub fn parse_file_name(name: &str) -> Option<(&str, &str, &str)> {
    let stem = name.strip_suffix(".csv.gz").or_else(|| name.strip_suffix(".csv"))?;
    let mut it = stem.split('_');
    let (s, e, d) = (it.next()?, it.next()?, it.next()?);
    (it.next().is_none() && s.starts_with('s') && (d == "sp" || d == "sw")).then_some((s, e, d))
}

/// Loads every execution file under `dir/DATA/sNN/`, phone and watch as separate traces.
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let data = dir.join("DATA");
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in sorted_entries(&data)? {
        if sub.is_dir() {
            files.extend(sorted_entries(&sub)?.into_iter().filter(|p| parse_file_name(file_name(p)).is_some()));
        }
    }
    if files.is_empty() {
        return Err(ReadError::Layout { path: data.display().to_string(), reason: "no sNN_EE_sp.csv.gz files".into() });
    }
    par_files(&files, |p, r| Ok(vec![load_file(p, r)?]))
}

/// Reads one execution file (one device).
pub fn load_file(path: &Path, report: &mut LoadReport) -> Result<Trace, ReadError> {
    let (subject, exec, device) = parse_file_name(file_name(path)).ok_or_else(|| ReadError::Layout {
        path: path.display().to_string(),
        reason: "not sNN_EE_{sp,sw}.csv".into(),
    })?;
    let meta = TraceMeta {
        dataset: NAME.into(),
        subject: subject.into(),
        session: format!("{exec}_{device}"),
        source: path.display().to_string(),
        gravity_removed: false,
    };
    let mut lines = open_lines(path)?;
    let file = lines.file().to_string();
    lines.expect_header(HEADER)?;
    let mut b = Builder::with_capacity(8192);
    while let Some(l) = lines.next_line()? {
        if l.text.is_empty() {
            continue;
        }
        let f = l.fields(&file, 8)?;
        let mut v = [0f32; 6];
        for (k, x) in v.iter_mut().enumerate() {
            *x = parse_f64(&file, l.no, FIELDS[k], f[k])? as f32;
        }
        let t_ns = parse_decimal_scaled(f[6], 6).ok_or_else(|| parse_err(&file, l.no, "timestamp", f[6], "as ms"))?;
        let label = map_label(f[7].trim()).ok_or_else(|| ReadError::UnknownLabel {
            file: file.clone(),
            line: l.no,
            token: f[7].to_string(),
        })?;
        b.push_monotonic(
            Sample::with_gyro(t_ns, [v[0], v[1], v[2]], [v[3], v[4], v[5]]),
            Some(label),
            &file,
            l.no,
            report,
        )?;
    }
    if b.len() == 0 {
        return Err(ReadError::Empty { file });
    }
    Ok(b.finish(meta))
}
