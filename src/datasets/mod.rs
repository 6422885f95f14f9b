//! Readers for the real recordings in `../shared/data` (feature `offline`).
//!
//! Every reader produces [`Trace`]s in the crate's units (m/s^2 including gravity unless
//! [`crate::trace::TraceMeta::gravity_removed`], rad/s, nanoseconds) with labels mapped to [`crate::Label`] as the
//! dataset's README proposes. Each dataset module has `load(dir)` and `load_with_report(dir)`; the report counts
//! what was dropped or skipped (documented quirks of the real files), so nothing disappears silently.
//!
//! [`discover`] turns a path into [`Source`]s and [`load_source`] loads one; [`load_all`] loads every known
//! dataset folder under a root.

pub mod adeptdata_running;
pub mod basicmotions;
pub mod error;
pub mod hapt_kcc2020;
pub(crate) mod io;
pub mod motionsense;
pub mod paris_metro_sensorlogger;
pub mod sp_sw_har;
pub mod us_transportation_tmd;
pub mod wisdm2019_phone_accel;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use error::ReadError;
pub use io::{parse_decimal_scaled, MAX_ABS_TIME_NS};

use crate::sample::{Label, Sample};
use crate::trace::{Trace, TraceMeta};

/// Short alias for the HAPT module (the excerpt writer lives there).
pub use hapt_kcc2020 as hapt;

/// What a loader dropped or skipped, per dataset. Counts, plus up to a few dozen human-readable warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Data files read.
    pub files: usize,
    /// Traces produced.
    pub traces: usize,
    /// Samples produced.
    pub samples: u64,
    /// Lines skipped because a token could not be parsed (documented corrupt lines, e.g. TMD's `r2`).
    pub skipped_lines: u64,
    /// Samples dropped because their time went backwards.
    pub dropped_backwards: u64,
    /// Samples dropped because their time repeated the previous sample's.
    pub dropped_repeated: u64,
    /// Whole recordings dropped as duplicates of another (MotionSense subject 1 `sit_13`).
    pub dropped_duplicate_recordings: usize,
    /// Files that yielded no trace (e.g. fewer than 2 accelerometer events).
    pub files_without_trace: usize,
    /// Details (file, line, what), capped at [`LoadReport::MAX_WARNINGS`].
    pub warnings: Vec<String>,
}

impl LoadReport {
    /// Cap on [`LoadReport::warnings`].
    pub const MAX_WARNINGS: usize = 50;

    /// Adds another report's counts and warnings.
    pub fn merge(&mut self, o: LoadReport) {
        self.files += o.files;
        self.traces += o.traces;
        self.samples += o.samples;
        self.skipped_lines += o.skipped_lines;
        self.dropped_backwards += o.dropped_backwards;
        self.dropped_repeated += o.dropped_repeated;
        self.dropped_duplicate_recordings += o.dropped_duplicate_recordings;
        self.files_without_trace += o.files_without_trace;
        for w in o.warnings {
            self.warn(w);
        }
    }

    /// Records a warning (kept while under the cap).
    pub fn warn(&mut self, w: String) {
        if self.warnings.len() < Self::MAX_WARNINGS {
            self.warnings.push(w);
        }
    }

    /// True when the loader dropped or skipped anything (samples, lines, recordings or files).
    pub fn dropped_anything(&self) -> bool {
        self.skipped_lines > 0
            || self.dropped_backwards > 0
            || self.dropped_repeated > 0
            || self.dropped_duplicate_recordings > 0
            || self.files_without_trace > 0
    }

    /// One line for people: what was read, every non-zero drop count, and the first warning (if any) with the
    /// number of warnings kept.
    pub fn summary(&self) -> String {
        let mut s = format!("{} files, {} traces, {} samples", self.files, self.traces, self.samples);
        if !self.dropped_anything() {
            s.push_str("; nothing dropped");
        } else {
            let parts: Vec<String> = [
                (self.dropped_backwards, "samples whose time went back"),
                (self.dropped_repeated, "samples repeating the previous time"),
                (self.skipped_lines, "unparsable lines"),
                (self.dropped_duplicate_recordings as u64, "duplicate recordings"),
                (self.files_without_trace as u64, "files without a trace"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            s.push_str("; dropped: ");
            s.push_str(&parts.join(", "));
        }
        if let Some(first) = self.warnings.first() {
            let kept = self.warnings.len();
            let more = if kept >= Self::MAX_WARNINGS { "+" } else { "" };
            s.push_str(&format!("; {kept}{more} warnings, first: {first}"));
        }
        s
    }

    fn count_traces(&mut self, traces: &[Trace]) {
        self.traces = traces.len();
        self.samples = traces.iter().map(|t| t.samples.len() as u64).sum();
    }
}

/// The dataset folders this crate can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetKind {
    /// `hapt_kcc2020`: UCI HAPT via the KCC 2020 tutorial package.
    HaptKcc2020,
    /// `basicmotions`: UEA BasicMotions (watch, gravity removed).
    BasicMotions,
    /// `us_transportation_tmd`: TMD raw Android sensor logs.
    UsTransportationTmd,
    /// `sp_sw_har`: smartphone + smartwatch executions.
    SpSwHar,
    /// `adeptdata_running`: 25-min outdoor run, hip and ankle.
    AdeptdataRunning,
    /// `paris_metro_sensorlogger`: Paris Métro rides.
    ParisMetroSensorlogger,
    /// `motionsense`: iPhone in the front pocket.
    MotionSense,
    /// `wisdm2019_phone_accel`: WISDM 2019 phone accelerometer.
    Wisdm2019PhoneAccel,
}

impl DatasetKind {
    /// All kinds, in loading order.
    pub const ALL: [DatasetKind; 8] = [
        DatasetKind::HaptKcc2020,
        DatasetKind::BasicMotions,
        DatasetKind::UsTransportationTmd,
        DatasetKind::SpSwHar,
        DatasetKind::AdeptdataRunning,
        DatasetKind::ParisMetroSensorlogger,
        DatasetKind::MotionSense,
        DatasetKind::Wisdm2019PhoneAccel,
    ];

    /// The folder name in `../shared/data` (also [`TraceMeta::dataset`] of its traces).
    pub fn folder_name(self) -> &'static str {
        match self {
            DatasetKind::HaptKcc2020 => hapt_kcc2020::NAME,
            DatasetKind::BasicMotions => basicmotions::NAME,
            DatasetKind::UsTransportationTmd => us_transportation_tmd::NAME,
            DatasetKind::SpSwHar => sp_sw_har::NAME,
            DatasetKind::AdeptdataRunning => adeptdata_running::NAME,
            DatasetKind::ParisMetroSensorlogger => paris_metro_sensorlogger::NAME,
            DatasetKind::MotionSense => motionsense::NAME,
            DatasetKind::Wisdm2019PhoneAccel => wisdm2019_phone_accel::NAME,
        }
    }

    /// The kind whose folder is called `name`.
    pub fn from_folder_name(name: &str) -> Option<DatasetKind> {
        Self::ALL.into_iter().find(|k| k.folder_name() == name)
    }

    /// Recognises a dataset folder by its characteristic layout (for copies under another name).
    pub fn detect_layout(dir: &Path) -> Option<DatasetKind> {
        let has = |p: &str| dir.join(p).exists();
        if has("user01_rec1.csv.gz") || has("user01_rec1.csv") {
            Some(DatasetKind::HaptKcc2020)
        } else if has("BasicMotions_TRAIN.csv") || has("BasicMotions_TEST.csv") {
            Some(DatasetKind::BasicMotions)
        } else if has("B_Accelerometer_data") {
            Some(DatasetKind::MotionSense)
        } else if has("raw/phone/accel") {
            Some(DatasetKind::Wisdm2019PhoneAccel)
        } else if has("acc_running.csv.gz") || has("acc_running.csv") {
            Some(DatasetKind::AdeptdataRunning)
        } else if has("DATA/subjects_info.csv") {
            Some(DatasetKind::SpSwHar)
        } else if has("raw")
            && io::sorted_entries(&dir.join("raw"))
                .is_ok_and(|v| v.iter().any(|p| io::file_name(p).starts_with("sensorfile_")))
        {
            Some(DatasetKind::UsTransportationTmd)
        } else {
            None
        }
    }

    /// Loads the dataset folder `dir` with this kind's reader.
    pub fn load(self, dir: &Path) -> Result<Vec<Trace>, ReadError> {
        Ok(self.load_with_report(dir)?.0)
    }

    /// Loads the dataset folder `dir` and reports what was dropped or skipped.
    pub fn load_with_report(self, dir: &Path) -> Result<(Vec<Trace>, LoadReport), ReadError> {
        match self {
            DatasetKind::HaptKcc2020 => hapt_kcc2020::load_with_report(dir),
            DatasetKind::BasicMotions => basicmotions::load_with_report(dir),
            DatasetKind::UsTransportationTmd => us_transportation_tmd::load_with_report(dir),
            DatasetKind::SpSwHar => sp_sw_har::load_with_report(dir),
            DatasetKind::AdeptdataRunning => adeptdata_running::load_with_report(dir),
            DatasetKind::ParisMetroSensorlogger => paris_metro_sensorlogger::load_with_report(dir),
            DatasetKind::MotionSense => motionsense::load_with_report(dir),
            DatasetKind::Wisdm2019PhoneAccel => wisdm2019_phone_accel::load_with_report(dir),
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.folder_name())
    }
}

/// Something [`load_source`] can load.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A known dataset folder.
    Dataset(DatasetKind, PathBuf),
    /// A canonical trace CSV file (`.csv` or `.csv.gz`).
    TraceCsv(PathBuf),
}

fn is_csv_name(p: &Path) -> bool {
    let n = io::file_name(p).to_ascii_lowercase();
    n.ends_with(".csv") || n.ends_with(".csv.gz")
}

/// Finds what can be loaded at `path`:
/// - a file is a [`Source::TraceCsv`] when its first non-comment line is a canonical header (otherwise an error
///   [`ReadError::Header`], since the caller named it explicitly);
/// - a folder named like a known dataset (e.g. `hapt_kcc2020`), or laid out like one, is a [`Source::Dataset`];
/// - any other folder is searched recursively (sorted by name) for dataset folders and for `*.csv` / `*.csv.gz`
///   files with the canonical header (other CSV files, and files that are not UTF-8 text, are ignored there; a
///   CSV file that cannot be read, e.g. a truncated `.csv.gz`, is an error).
pub fn discover(path: &Path) -> Result<Vec<Source>, ReadError> {
    let meta = std::fs::metadata(path).map_err(|source| ReadError::Io { file: path.display().to_string(), source })?;
    if meta.is_file() {
        if trace_csv_has_header(path)? {
            return Ok(vec![Source::TraceCsv(path.to_path_buf())]);
        }
        return Err(ReadError::Header {
            file: path.display().to_string(),
            line: 1,
            reason: "not a canonical trace CSV (expected t,ax,ay,az[,gx,gy,gz][,label]) nor a dataset folder".into(),
        });
    }
    let mut out = Vec::new();
    discover_dir(path, &mut out, &mut BTreeSet::new(), 0)?;
    Ok(out)
}

/// [`discover`] over several paths, each source once: a folder or file reached twice (named twice, inside another
/// named path, or through a symbolic link) is loaded once, so no trace counts twice in an evaluation or a training.
pub fn discover_all(paths: &[PathBuf]) -> Result<Vec<Source>, ReadError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for path in paths {
        for source in discover(path)? {
            let at = match &source {
                Source::Dataset(_, p) | Source::TraceCsv(p) => p,
            };
            if seen.insert(canonical(at)?) {
                out.push(source);
            }
        }
    }
    Ok(out)
}

/// The path with every link resolved, so the same folder is known however it was reached.
fn canonical(path: &Path) -> Result<PathBuf, ReadError> {
    path.canonicalize().map_err(|source| ReadError::Io { file: path.display().to_string(), source })
}

fn trace_csv_has_header(path: &Path) -> Result<bool, ReadError> {
    crate::trace::csv::has_canonical_header(path)
}

/// Searches `dir`, skipping folders already searched: a symbolic link back up the tree would otherwise load the
/// same datasets once per level, up to the depth limit.
fn discover_dir(
    dir: &Path,
    out: &mut Vec<Source>,
    visited: &mut BTreeSet<PathBuf>,
    depth: usize,
) -> Result<(), ReadError> {
    if depth > 16 || !visited.insert(canonical(dir)?) {
        return Ok(());
    }
    let by_name = DatasetKind::from_folder_name(io::file_name(dir));
    if let Some(kind) = by_name.or_else(|| DatasetKind::detect_layout(dir)) {
        out.push(Source::Dataset(kind, dir.to_path_buf()));
        return Ok(());
    }
    for p in io::sorted_entries(dir)? {
        if p.is_dir() {
            discover_dir(&p, out, visited, depth + 1)?;
        } else if is_csv_name(&p) && trace_csv_has_header(&p)? {
            // A CSV that cannot be read (I/O error, truncated gzip) is an error, not "not a trace".
            out.push(Source::TraceCsv(p));
        }
    }
    Ok(())
}

/// Loads one source: a dataset folder (all its traces) or a canonical trace CSV (one trace).
pub fn load_source(source: &Source) -> Result<Vec<Trace>, ReadError> {
    Ok(load_source_with_report(source)?.0)
}

/// [`load_source`] plus the reader's [`LoadReport`] (a canonical trace CSV is read strictly, so its report only
/// counts the file, trace and samples).
pub fn load_source_with_report(source: &Source) -> Result<(Vec<Trace>, LoadReport), ReadError> {
    match source {
        Source::Dataset(kind, dir) => kind.load_with_report(dir),
        Source::TraceCsv(p) => {
            let traces = vec![crate::trace::csv::read_trace_csv(p)?];
            let mut report = LoadReport { files: 1, ..LoadReport::default() };
            report.count_traces(&traces);
            Ok((traces, report))
        }
    }
}

/// Loads every known dataset folder directly under `root` (folders missing from `root` are skipped), datasets
/// and files in parallel; the result is in [`DatasetKind::ALL`] order, then each reader's order.
pub fn load_all(root: &Path) -> Result<Vec<Trace>, ReadError> {
    Ok(load_all_with_report(root)?.into_iter().flat_map(|(_, t, _)| t).collect())
}

/// Like [`load_all`], keeping each dataset's traces and report apart.
pub fn load_all_with_report(root: &Path) -> Result<Vec<(DatasetKind, Vec<Trace>, LoadReport)>, ReadError> {
    if !root.is_dir() {
        return Err(ReadError::Layout { path: root.display().to_string(), reason: "not a folder".into() });
    }
    let kinds: Vec<DatasetKind> =
        DatasetKind::ALL.into_iter().filter(|k| root.join(k.folder_name()).is_dir()).collect();
    kinds
        .par_iter()
        .map(|k| {
            let (t, r) = k.load_with_report(&root.join(k.folder_name()))?;
            Ok((*k, t, r))
        })
        .collect()
}

/// Runs `f` over `files` in parallel, keeping the input order, merging reports.
pub(crate) fn par_files<F>(files: &[PathBuf], f: F) -> Result<(Vec<Trace>, LoadReport), ReadError>
where
    F: Fn(&Path, &mut LoadReport) -> Result<Vec<Trace>, ReadError> + Sync,
{
    let parts: Vec<Result<(Vec<Trace>, LoadReport), ReadError>> = files
        .par_iter()
        .map(|p| {
            let mut r = LoadReport { files: 1, ..LoadReport::default() };
            let t = f(p, &mut r)?;
            if t.is_empty() {
                r.files_without_trace += 1;
            }
            Ok((t, r))
        })
        .collect();
    let mut traces = Vec::new();
    let mut report = LoadReport::default();
    for part in parts {
        let (t, r) = part?;
        traces.extend(t);
        report.merge(r);
    }
    report.count_traces(&traces);
    Ok((traces, report))
}

/// Collects samples and labels, dropping samples whose time does not increase (counted in a report).
#[derive(Debug, Default)]
pub(crate) struct Builder {
    samples: Vec<Sample>,
    labels: Vec<Option<Label>>,
}

/// What [`Builder::push_monotonic`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Kept,
    Backwards,
    Repeated,
}

impl Builder {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Builder { samples: Vec::with_capacity(n), labels: Vec::with_capacity(n) }
    }

    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    pub(crate) fn samples(&self) -> &[Sample] {
        &self.samples
    }

    pub(crate) fn first_t(&self) -> Option<i64> {
        self.samples.first().map(|s| s.t_ns)
    }

    pub(crate) fn last_t(&self) -> Option<i64> {
        self.samples.last().map(|s| s.t_ns)
    }

    /// Validates the values and the time's range (error with file and line) and appends; time must increase or the sample is dropped
    /// and counted.
    pub(crate) fn push_monotonic(
        &mut self,
        s: Sample,
        label: Option<Label>,
        file: &str,
        line: u64,
        report: &mut LoadReport,
    ) -> Result<Pushed, ReadError> {
        s.check_values().map_err(|source| ReadError::InvalidSample { file: file.to_string(), line, source })?;
        io::check_time(file, line, "time", s.t_ns)?;
        if let Some(prev) = self.last_t() {
            if s.t_ns < prev {
                report.dropped_backwards += 1;
                report.warn(format!("{file}:{line}: time goes back {} ns: sample dropped", prev.abs_diff(s.t_ns)));
                return Ok(Pushed::Backwards);
            }
            if s.t_ns == prev {
                report.dropped_repeated += 1;
                return Ok(Pushed::Repeated);
            }
        }
        self.samples.push(s);
        self.labels.push(label);
        Ok(Pushed::Kept)
    }

    /// Validates and appends; time must strictly increase or it is an error (for synthesised or clean clocks).
    pub(crate) fn push_strict(
        &mut self,
        s: Sample,
        label: Option<Label>,
        file: &str,
        line: u64,
    ) -> Result<(), ReadError> {
        s.check_values().map_err(|source| ReadError::InvalidSample { file: file.to_string(), line, source })?;
        io::check_time(file, line, "time", s.t_ns)?;
        if let Some(prev) = self.last_t() {
            if s.t_ns < prev {
                return Err(ReadError::TimeBackwards { file: file.to_string(), line });
            }
            if s.t_ns == prev {
                return Err(ReadError::TimeRepeated { file: file.to_string(), line });
            }
        }
        self.samples.push(s);
        self.labels.push(label);
        Ok(())
    }

    /// Sets the label of samples for which `f(t_ns)` says so.
    pub(crate) fn relabel(&mut self, f: impl Fn(i64, Option<Label>) -> Option<Label>) {
        for (s, l) in self.samples.iter().zip(self.labels.iter_mut()) {
            *l = f(s.t_ns, *l);
        }
    }

    /// The trace, its vectors shrunk to their length (a reader's preallocation is not kept for the trace's life).
    pub(crate) fn finish(mut self, meta: TraceMeta) -> Trace {
        self.samples.shrink_to_fit();
        self.labels.shrink_to_fit();
        Trace { meta, samples: self.samples, labels: self.labels }
    }
}

/// Whole seconds of a trace's clock, counted from its first sample, that a reader marked from the spread of |a| around
/// them (the adeptdata run's running seconds, the rest in TMD's Walking files).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MarkedSeconds {
    /// Time of the trace's first sample, ns: second 0 starts here.
    pub first_ns: i64,
    /// The marked seconds. Keyed by second rather than indexed, so memory follows the number of samples, not the
    /// span of the clock.
    pub seconds: BTreeSet<i64>,
}

impl MarkedSeconds {
    /// True when `t_ns` (on the same clock, possibly another trace's) falls in a marked second.
    pub fn contains(&self, t_ns: i64) -> bool {
        self.seconds.contains(&t_ns.saturating_sub(self.first_ns).div_euclid(1_000_000_000))
    }
}

/// The seconds whose centred neighbourhood of `2 * radius_s + 1` seconds holds at least `min_samples` samples and
/// passes `keep` on the standard deviation of |a| over them, |a| converted by `to_unit` first. For readers whose
/// files label whole recordings that are not one activity throughout.
pub(crate) fn seconds_by_magnitude_spread(
    samples: &[Sample],
    radius_s: i64,
    min_samples: u32,
    to_unit: impl Fn(f64) -> f64,
    keep: impl Fn(f64) -> bool,
) -> MarkedSeconds {
    const NS: i64 = 1_000_000_000;
    let Some(first) = samples.first().map(|s| s.t_ns) else { return MarkedSeconds::default() };
    // Per-second sums of |a| and |a|^2, so a centred window is a range of bins.
    let mut bins: BTreeMap<i64, (f64, f64, u32)> = BTreeMap::new();
    for s in samples {
        let m = to_unit(f64::from(s.accel.norm()));
        let b = bins.entry(s.t_ns.saturating_sub(first).div_euclid(NS)).or_insert((0.0, 0.0, 0));
        b.0 += m;
        b.1 += m * m;
        b.2 += 1;
    }
    let seconds = bins
        .keys()
        .copied()
        .filter(|&k| {
            let (sum, sq, n) = bins
                .range(k.saturating_sub(radius_s)..=k.saturating_add(radius_s))
                .fold((0.0, 0.0, 0u32), |a, (_, b)| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
            if n < min_samples {
                return false;
            }
            let mean = sum / f64::from(n);
            let var = (sq / f64::from(n) - mean * mean).max(0.0);
            keep(var.sqrt())
        })
        .collect();
    MarkedSeconds { first_ns: first, seconds }
}

/// Standard gravity in f64 (the conversion factor of readers whose source is in g).
pub const STANDARD_GRAVITY_F64: f64 = 9.806_65;

/// Acceleration in g (parsed as f64) to m/s^2 as f32 (the product is formed in f64, then rounded once).
pub(crate) fn g_to_ms2(v: f64) -> f32 {
    (v * STANDARD_GRAVITY_F64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_summary_names_every_drop_and_the_first_warning() {
        let mut r = LoadReport { files: 2, traces: 3, samples: 400, ..LoadReport::default() };
        assert_eq!(r.summary(), "2 files, 3 traces, 400 samples; nothing dropped");
        r.dropped_backwards = 4;
        r.skipped_lines = 1;
        r.warn("a.csv:7: time goes back 5 ns: sample dropped".into());
        r.warn("a.csv:9: time goes back 6 ns: sample dropped".into());
        assert_eq!(
            r.summary(),
            "2 files, 3 traces, 400 samples; dropped: 4 samples whose time went back, 1 unparsable lines; \
             2 warnings, first: a.csv:7: time goes back 5 ns: sample dropped"
        );
    }

    #[test]
    fn builders_refuse_times_beyond_2_pow_62_ns_and_report_drops_without_overflow() {
        let mut b = Builder::default();
        let mut r = LoadReport::default();
        b.push_strict(Sample::accel(MAX_ABS_TIME_NS, 0.0, 0.0, 9.8), None, "f", 1).unwrap();
        let e = b.push_strict(Sample::accel(i64::MAX, 0.0, 0.0, 9.8), None, "f", 2).unwrap_err();
        assert!(matches!(e, ReadError::TimeOutOfRange { line: 2, t_ns: i64::MAX, .. }), "{e:?}");
        let e = b.push_monotonic(Sample::accel(i64::MIN, 0.0, 0.0, 9.8), None, "f", 3, &mut r).unwrap_err();
        assert!(matches!(e, ReadError::TimeOutOfRange { line: 3, .. }), "{e:?}");
        // The largest backward step the bound allows is reported exactly (2^63 ns does not fit an i64).
        let kept = b.push_monotonic(Sample::accel(-MAX_ABS_TIME_NS, 0.0, 0.0, 9.8), None, "f", 4, &mut r).unwrap();
        assert_eq!(kept, Pushed::Backwards);
        assert_eq!(r.warnings, ["f:4: time goes back 9223372036854775808 ns: sample dropped"]);
        assert_eq!(
            b.finish(TraceMeta {
                dataset: "d".into(),
                subject: "s".into(),
                session: "1".into(),
                source: "f".into(),
                gravity_removed: false,
            })
            .samples
            .len(),
            1
        );
    }
}
