//! `basicmotions`: UEA BasicMotions (smartwatch, 4 students, 80 cases × 10 s at 10 Hz).
//!
//! Reads the long CSV conversions `BasicMotions_{TRAIN,TEST}.csv`
//! (`split,case,label,t_index,dim_0..dim_5`), not the `.ts` files. Dims 0–2 are acceleration with gravity removed
//! at the source (m/s^2, [`TraceMeta::gravity_removed`] = true), dims 3–5 angular rate (rad/s); `t = t_index × 100 ms`.
//! One trace per case, session `TRAIN-<case>` / `TEST-<case>`, all in subject `all` (no ids). Labels: Walking →
//! walking, Running → running, Standing → still, Badminton → other. Repeated consecutive values (≈ 10 %) are
//! kept: they are values at distinct times.

use std::collections::BTreeMap;
use std::path::Path;

use super::io::{open_lines, parse_f64, parse_i64};
use super::{Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "basicmotions";
/// Sample period, ns (10 Hz).
pub const PERIOD_NS: i64 = 100_000_000;
const HEADER: &str = "split,case,label,t_index,dim_0,dim_1,dim_2,dim_3,dim_4,dim_5";
const FIELDS: [&str; 10] = ["split", "case", "label", "t_index", "dim_0", "dim_1", "dim_2", "dim_3", "dim_4", "dim_5"];

/// Maps a BasicMotions class name.
pub fn map_label(s: &str) -> Option<Label> {
    Some(match s {
        "Walking" => Label::Walking,
        "Running" => Label::Running,
        "Standing" => Label::Still,
        "Badminton" => Label::Other,
        _ => return None,
    })
}

/// Loads `BasicMotions_TRAIN.csv` and `BasicMotions_TEST.csv` from `dir` (TRAIN cases first, by case number).
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let mut traces = Vec::new();
    let mut report = LoadReport::default();
    for split in ["TRAIN", "TEST"] {
        let p = dir.join(format!("BasicMotions_{split}.csv"));
        traces.extend(load_file(&p, split)?);
        report.files += 1;
    }
    report.count_traces(&traces);
    Ok((traces, report))
}

fn load_file(path: &Path, split: &str) -> Result<Vec<Trace>, ReadError> {
    let mut lines = open_lines(path)?;
    let file = lines.file().to_string();
    lines.expect_header(HEADER)?;
    let mut cases: BTreeMap<i64, (Label, Builder)> = BTreeMap::new();
    while let Some(l) = lines.next_line()? {
        if l.text.is_empty() {
            continue;
        }
        let f = l.fields(&file, 10)?;
        if f[0] != split {
            return Err(super::io::parse_err(&file, l.no, "split", f[0], &format!("as split {split}")));
        }
        let case = parse_i64(&file, l.no, FIELDS[1], f[1])?;
        let label = map_label(f[2]).ok_or_else(|| ReadError::UnknownLabel {
            file: file.clone(),
            line: l.no,
            token: f[2].to_string(),
        })?;
        let t_index = parse_i64(&file, l.no, FIELDS[3], f[3])?;
        let mut v = [0f32; 6];
        for (k, x) in v.iter_mut().enumerate() {
            *x = parse_f64(&file, l.no, FIELDS[4 + k], f[4 + k])? as f32;
        }
        let entry = cases.entry(case).or_insert_with(|| (label, Builder::default()));
        if entry.0 != label {
            return Err(super::io::parse_err(&file, l.no, "label", f[2], "(label changes within a case)"));
        }
        let t_ns = t_index.checked_mul(PERIOD_NS).ok_or_else(|| {
            super::io::parse_err(&file, l.no, FIELDS[3], f[3], "as a time index (x 100 ms overflows)")
        })?;
        entry.1.push_strict(
            Sample::with_gyro(t_ns, [v[0], v[1], v[2]], [v[3], v[4], v[5]]),
            Some(label),
            &file,
            l.no,
        )?;
    }
    if cases.is_empty() {
        return Err(ReadError::Empty { file });
    }
    Ok(cases
        .into_iter()
        .map(|(case, (_, b))| {
            b.finish(TraceMeta {
                dataset: NAME.into(),
                subject: "all".into(),
                session: format!("{split}-{case}"),
                source: file.clone(),
                gravity_removed: true,
            })
        })
        .collect())
}
