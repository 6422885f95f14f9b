//! `adeptdata_running`: a 25-min outdoor run (R package adeptdata, `acc_running`), ActiGraph GT9X at the left hip
//! and the left ankle, 100 Hz.
//!
//! `acc_running.csv.gz`: `loc_id,date_time_epoch_s,x,y,z` (`loc_id` one of [`LOCATIONS`]), values in g (converted × 9.80665, gravity included),
//! time in decimal seconds (parsed exactly to ns). Two traces, session `left_hip` and `left_ankle`, subject
//! `adept01`.
//!
//! Labels. The dataset has no per-sample labels: the whole file is described as a run. It is not one: besides
//! the standing start and the walking and standing end (QUIRKS.md), the run stops five times, for 20 s to 2 minutes
//! (walking, then standing), at the same moments in both sensors. So a second is labelled running only where the
//! hip shows running: the standard deviation of |a| at the hip over the 3 s centred on it is at least
//! [`RUN_HIP_STD_G`]. Everything else is unlabelled (`None`: not learned from, not scored), not guessed as walking
//! or still. The threshold sits in the gap of the distribution: 5-s windows of the run read 0.8-1.3 g, the breaks
//! and the end 0-0.4 g, and only the few windows that straddle a change fall between. Both traces take the hip's
//! labels (the two sensors share one clock); without a `left_hip` trace nothing is labelled.

use std::collections::BTreeMap;
use std::path::Path;

use super::io::{open_lines, parse_decimal_scaled, parse_err, parse_f64};
use super::{g_to_ms2, Builder, LoadReport, MarkedSeconds, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "adeptdata_running";
/// A second is running when the standard deviation of |a| at the hip over the 3 s centred on it is at least this
/// (in g).
pub const RUN_HIP_STD_G: f64 = 0.5;
/// The location whose signal decides the labels.
pub const REFERENCE_LOCATION: &str = "left_hip";
/// The sensor locations of the dataset (its README: `loc_id` is `left_hip` or `left_ankle`); any other `loc_id` is
/// a parse error.
pub const LOCATIONS: [&str; 2] = [REFERENCE_LOCATION, "left_ankle"];
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
        if !LOCATIONS.contains(&f[0]) {
            return Err(parse_err(&file, l.no, "loc_id", f[0], "as a location (left_hip or left_ankle)"));
        }
        let t_ns = parse_decimal_scaled(f[1], 9)
            .ok_or_else(|| parse_err(&file, l.no, "date_time_epoch_s", f[1], "as seconds"))?;
        let x = parse_f64(&file, l.no, "x", f[2])?;
        let y = parse_f64(&file, l.no, "y", f[3])?;
        let z = parse_f64(&file, l.no, "z", f[4])?;
        let b = match locs.get_mut(f[0]) {
            Some(b) => b,
            None => {
                order.push(f[0].to_string());
                // No preallocation: the vectors grow with the samples actually read.
                locs.entry(f[0].to_string()).or_default()
            }
        };
        b.push_strict(Sample::accel(t_ns, g_to_ms2(x), g_to_ms2(y), g_to_ms2(z)), None, &file, l.no)?;
    }
    let running = locs.get(REFERENCE_LOCATION).map(|b| running_seconds(b.samples()));
    let mut traces = Vec::new();
    for loc in order {
        let Some(mut b) = locs.remove(&loc) else { continue };
        // Samples were pushed unlabelled; without the reference trace they stay so.
        if let Some(running) = &running {
            b.relabel(|t, _| running.contains(t).then_some(Label::Running));
        }
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

/// The seconds of the reference trace that are running (see the module doc): |a| in g over the 3 s centred on
/// each.
fn running_seconds(samples: &[Sample]) -> MarkedSeconds {
    super::seconds_by_magnitude_spread(samples, 1, 2, |m| m / super::STANDARD_GRAVITY_F64, |std| std >= RUN_HIP_STD_G)
}
