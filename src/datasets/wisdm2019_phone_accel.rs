//! `wisdm2019_phone_accel`: WISDM 2019 phone accelerometer (Fordham), `raw/phone/accel/data_<id>_accel_phone.txt.gz`.
//!
//! Lines `subject,code,timestamp_ns,x,y,z;` (trailing `;`), m/s^2 with gravity, a device clock in ns. Each activity
//! block restarts its clock, so each file is split into one trace per contiguous block: subject = the id, session =
//! the activity code (`A`, `B`, …; a code that appears again later in the file gets `-2`, `-3`, …). Inside a block
//! samples whose time repeats or goes backwards are dropped and counted. Saturated values near ±19.6 m/s^2 (±2 g)
//! are real and kept.
//!
//! Labels: A walking, B running (jogging), C walking (stairs), D/E still (sitting, standing); F, Q (typing,
//! writing) and H, I, J, K, L (eating, drinking) → still (seated hand activities, ambiguous per QUIRKS.md; see
//! [`map_label`]); G, R, S (teeth, clapping, folding) and M, O, P (ball games) → other.

use std::collections::BTreeMap;
use std::path::Path;

use super::io::{file_name, open_lines, parse_decimal_scaled, parse_err, parse_f64, sorted_entries};
use super::{par_files, Builder, LoadReport, ReadError};
use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Folder name and [`TraceMeta::dataset`].
pub const NAME: &str = "wisdm2019_phone_accel";

/// Maps a WISDM activity code.
pub fn map_label(code: &str) -> Option<Label> {
    Some(match code {
        "A" | "C" => Label::Walking,
        "B" => Label::Running,
        // Sitting and standing, and the seated hand activities (typing, writing, eating, drinking): for a phone in
        // the pocket the user is still, which is the README's first proposal. Mapping them to `other` would
        // make the model abstain on ordinary sitting.
        "D" | "E" | "F" | "Q" | "H" | "I" | "J" | "K" | "L" => Label::Still,
        "G" | "R" | "S" | "M" | "O" | "P" => Label::Other,
        _ => return None,
    })
}

/// Loads every `raw/phone/accel/data_*_accel_phone.txt(.gz)` under `dir`, one trace per activity block.
pub fn load(dir: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_with_report(dir)?.0)
}

fn is_data_file(name: &str) -> bool {
    name.starts_with("data_") && (name.ends_with("_accel_phone.txt.gz") || name.ends_with("_accel_phone.txt"))
}

/// [`load`] plus a [`LoadReport`].
pub fn load_with_report(dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    let d = dir.join("raw/phone/accel");
    let files: Vec<_> = sorted_entries(&d)?.into_iter().filter(|p| is_data_file(file_name(p))).collect();
    if files.is_empty() {
        return Err(ReadError::Layout { path: d.display().to_string(), reason: "no data_*_accel_phone.txt.gz".into() });
    }
    par_files(&files, load_file)
}

/// Reads one subject file, one trace per activity block.
pub fn load_file(path: &Path, report: &mut LoadReport) -> Result<Vec<Trace>, ReadError> {
    let mut lines = open_lines(path)?;
    let file = lines.file().to_string();
    let mut traces = Vec::new();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut cur: Option<(String, String, Builder)> = None; // (subject, code, builder)
    let finish = |(subject, code, b): (String, String, Builder), seen: &mut BTreeMap<String, u32>| {
        let n = seen.entry(code.clone()).or_insert(0);
        *n += 1;
        let session = if *n == 1 { code } else { format!("{code}-{n}") };
        b.finish(TraceMeta { dataset: NAME.into(), subject, session, source: file.clone(), gravity_removed: false })
    };
    while let Some(l) = lines.next_line()? {
        let text = l.text.trim_end();
        if text.is_empty() {
            continue;
        }
        // Every line of the source ends in `;`; one without it was cut short or is not this format.
        let Some(text) = text.strip_suffix(';') else {
            return Err(ReadError::Truncated {
                file: file.clone(),
                line: l.no,
                reason: "the line does not end with ';' as every line of this format does".into(),
            });
        };
        let f: Vec<&str> = text.split(',').collect();
        if f.len() != 6 {
            return Err(ReadError::ColumnCount { file: file.clone(), line: l.no, expected: 6, found: f.len() });
        }
        let (subject, code) = (f[0].trim(), f[1].trim());
        let label = map_label(code).ok_or_else(|| ReadError::UnknownLabel {
            file: file.clone(),
            line: l.no,
            token: code.to_string(),
        })?;
        let t_ns = parse_decimal_scaled(f[2], 0).ok_or_else(|| parse_err(&file, l.no, "timestamp", f[2], "as ns"))?;
        let x = parse_f64(&file, l.no, "x", f[3])? as f32;
        let y = parse_f64(&file, l.no, "y", f[4])? as f32;
        let z = parse_f64(&file, l.no, "z", f[5])? as f32;
        let same = cur.as_ref().is_some_and(|(s, c, _)| s == subject && c == code);
        if !same {
            if let Some(done) = cur.take() {
                traces.push(finish(done, &mut seen));
            }
            // No preallocation per block: a file that alternates codes every line must not reserve a buffer per line.
            cur = Some((subject.to_string(), code.to_string(), Builder::default()));
        }
        if let Some((_, _, b)) = cur.as_mut() {
            b.push_monotonic(Sample::accel(t_ns, x, y, z), Some(label), &file, l.no, report)?;
        }
    }
    if let Some(done) = cur.take() {
        traces.push(finish(done, &mut seen));
    }
    if traces.is_empty() {
        return Err(ReadError::Empty { file });
    }
    Ok(traces)
}
