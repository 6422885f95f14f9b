//! `adeptdata_running`: a 25-min outdoor run (R package adeptdata, `acc_running`), ActiGraph GT9X at the left hip
//! and the left ankle, 100 Hz.
//!
//! `acc_running.csv.gz`: `loc_id,date_time_epoch_s,x,y,z`, values in g (converted × 9.80665, gravity included),
//! time in decimal seconds (parsed exactly to ns). Two traces, session `left_hip` and `left_ankle`, subject
//! `adept01`. Labels: running from [`RUN_START_S`] after the first sample until [`RUN_END_BEFORE_END_S`] before
//! the last one; unlabelled (`None`) outside, where the recording is standing / walking (QUIRKS.md). The bounds
//! were checked on the data: the per-second std of |a| at the hip is ≤ 0.02 g for seconds 0–1, rises from second
//! 2, and falls from ≈ 1.1 g to ≤ 0.3 g at second 1432–1433 (1500 s in total): the last 68 s are walking,
//! standing, walking, standing.

use std::collections::BTreeMap;
use std::path::Path;

use super::io::{open_lines, parse_decimal_scaled, parse_err, parse_f64};
use super::{g_to_ms2, Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "adeptdata_running";
/// Seconds after the first sample where the run starts.
pub const RUN_START_S: i64 = 2;
/// Seconds before the last sample where the run ends.
pub const RUN_END_BEFORE_END_S: i64 = 68;
const HEADER: &str = "loc_id,date_time_epoch_s,x,y,z";

/// Loads `acc_running.csv.gz` from `dir`: traces `left_hip` then `left_ankle` (order of first appearance).
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let gz = dir.join("acc_running.csv.gz");
    let path = if gz.exists() { gz } else { dir.join("acc_running.csv") };
    let mut lines = open_lines(&path)?;
    let file = lines.file().to_string();
    lines.expect_header(HEADER)?;
    let mut order: Vec<String> = Vec::new();
    let mut locs: BTreeMap<String, Builder> = BTreeMap::new();
    while let Some(l) = lines.next_line()? {
        if l.text.is_empty() {
            continue;
        }
        let f = l.fields(&file, 5)?;
        let t_ns = parse_decimal_scaled(f[1], 9)
            .ok_or_else(|| parse_err(&file, l.no, "date_time_epoch_s", f[1], "as seconds"))?;
        let x = parse_f64(&file, l.no, "x", f[2])?;
        let y = parse_f64(&file, l.no, "y", f[3])?;
        let z = parse_f64(&file, l.no, "z", f[4])?;
        let b = match locs.get_mut(f[0]) {
            Some(b) => b,
            None => {
                order.push(f[0].to_string());
                locs.entry(f[0].to_string()).or_insert_with(|| Builder::with_capacity(150_000))
            }
        };
        b.push_strict(Sample::accel(t_ns, g_to_ms2(x), g_to_ms2(y), g_to_ms2(z)), None, &file, l.no)?;
    }
    let mut traces = Vec::new();
    for loc in order {
        let Some(mut b) = locs.remove(&loc) else { continue };
        let (Some(first), Some(last)) = (b.first_t(), b.last_t()) else { continue };
        let start = first + RUN_START_S * 1_000_000_000;
        let end = last - RUN_END_BEFORE_END_S * 1_000_000_000;
        b.relabel(|t, _| (t >= start && t < end).then_some(Label::Running));
        traces.push(b.finish(TraceMeta {
            dataset: NAME.into(),
            subject: "adept01".into(),
            session: loc,
            source: file.clone(),
            gravity_removed: false,
        }));
    }
    if traces.is_empty() {
        return Err(ReadError::Empty { file });
    }
    let mut report = LoadReport { files: 1, ..LoadReport::default() };
    report.count_traces(&traces);
    Ok((traces, report))
}
