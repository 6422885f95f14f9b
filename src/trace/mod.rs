//! Recorded traces: samples plus optional per-sample labels and where they came from (feature `offline`).
//!
//! Every dataset reader in [`crate::datasets`] produces [`Trace`]s of exactly this shape, and the canonical trace
//! CSV (see [`csv`]) stores exactly this shape, so anything can be converted to it and back.

pub mod csv;

use crate::sample::{Label, Sample};

/// `t_ns - t0_ns` in seconds, formed in `i128` so that no pair of `i64` times overflows (for times whose difference
/// fits an `i64`, exactly the value of `(t_ns - t0_ns) as f64 * 1e-9`).
pub fn seconds_between(t0_ns: i64, t_ns: i64) -> f64 {
    (i128::from(t_ns) - i128::from(t0_ns)) as f64 * 1e-9
}

/// Where a trace came from: enough to group evaluation by subject and to cite the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TraceMeta {
    /// Dataset folder name (e.g. `hapt_kcc2020`), or `trace` for a canonical CSV file.
    pub dataset: String,
    /// Subject id, unique within the dataset (e.g. `user01`); datasets without ids use one group.
    pub subject: String,
    /// Session / recording id, unique within the subject.
    pub session: String,
    /// The file (or folder) the samples were read from, for messages and reports.
    pub source: String,
    /// True when the source removed gravity from the acceleration (the samples then hold linear acceleration).
    pub gravity_removed: bool,
}

impl TraceMeta {
    /// A stable group key for subject-grouped cross-validation: `dataset/subject`.
    pub fn group(&self) -> String {
        format!("{}/{}", self.dataset, self.subject)
    }

    /// A short display name: `dataset/subject/session`.
    pub fn name(&self) -> String {
        format!("{}/{}/{}", self.dataset, self.subject, self.session)
    }
}

/// A recorded trace: time-ordered samples, each with an optional ground-truth label.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Origin.
    pub meta: TraceMeta,
    /// Samples, strictly increasing in time.
    pub samples: Vec<Sample>,
    /// Per-sample labels: either empty (unlabelled trace) or exactly `samples.len()` long; `None` marks an
    /// unlabelled stretch (e.g. HAPT label -1).
    pub labels: Vec<Option<Label>>,
}

impl Trace {
    /// True when the trace carries labels.
    pub fn is_labelled(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Duration from first to last sample, seconds (computed without overflow for any two `i64` times).
    pub fn duration_s(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) => seconds_between(a.t_ns, b.t_ns),
            _ => 0.0,
        }
    }

    /// Mean sample rate in Hz (samples per second over the trace's span).
    pub fn mean_rate_hz(&self) -> f64 {
        let d = self.duration_s();
        if d > 0.0 {
            (self.samples.len().saturating_sub(1)) as f64 / d
        } else {
            0.0
        }
    }

    /// The label covering the most samples within `[t0_ns, t1_ns]`, with the fraction it covers among all samples
    /// in that span (unlabelled samples count against the fraction). `None` when no labelled sample falls inside.
    pub fn majority_label(&self, t0_ns: i64, t1_ns: i64) -> Option<(Label, f32)> {
        if self.labels.is_empty() {
            return None;
        }
        let lo = self.samples.partition_point(|s| s.t_ns < t0_ns);
        let hi = self.samples.partition_point(|s| s.t_ns <= t1_ns);
        if hi <= lo {
            return None;
        }
        let mut counts = [0usize; 5];
        for l in self.labels[lo..hi].iter().flatten() {
            counts[*l as usize] += 1;
        }
        let (best, &n) = counts.iter().enumerate().max_by_key(|(i, &n)| (n, std::cmp::Reverse(*i)))?;
        if n == 0 {
            return None;
        }
        Some((Label::ALL[best], n as f32 / (hi - lo) as f32))
    }
}
