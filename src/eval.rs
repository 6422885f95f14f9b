//! Metrics (feature `offline`): confusion matrix, per-class precision/recall/F1, macro-F1, abstentions, and how
//! often windows of activities outside the four (`other`) were given a confident activity.
//!
//! Scoring is per decision (one per window hop) against the label covering most of that window. `Unknown` counts
//! as a miss for recall and is reported as an abstention. Macro-F1 averages the F1 of the classes present in the
//! truth (a class with no support in the evaluated data is reported but not averaged).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::offline::DecisionRecord;
use crate::sample::{Activity, Label};

/// Output labels of the confusion matrix, in order.
pub const LABELS: [&str; 5] = ["still", "walking", "running", "transit", "unknown"];

/// Counts of decisions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confusion {
    /// `matrix[truth][output]` over the four activities (rows) and four activities + unknown (columns).
    pub matrix: [[u64; 5]; 4],
    /// Decisions on windows labelled `other`, by output.
    pub other: [u64; 5],
    /// Decisions on unlabelled windows (not scored).
    pub unlabelled: u64,
}

impl Confusion {
    /// Adds one decision.
    pub fn add(&mut self, truth: Option<Label>, output: Activity) {
        let j = output as usize;
        match truth.and_then(Label::activity) {
            Some(t) => self.matrix[t as usize][j] += 1,
            None if truth == Some(Label::Other) => self.other[j] += 1,
            None => self.unlabelled += 1,
        }
    }

    /// Adds all decisions.
    pub fn add_all(&mut self, ds: &[DecisionRecord]) {
        for d in ds {
            self.add(d.truth, d.activity);
        }
    }

    /// Adds another confusion.
    pub fn merge(&mut self, o: &Confusion) {
        for i in 0..4 {
            for j in 0..5 {
                self.matrix[i][j] += o.matrix[i][j];
            }
        }
        for j in 0..5 {
            self.other[j] += o.other[j];
        }
        self.unlabelled += o.unlabelled;
    }

    /// The metrics.
    pub fn report(&self) -> Report {
        let mut per_class = BTreeMap::new();
        let mut f1s = Vec::new();
        for (k, name) in LABELS.iter().take(4).enumerate() {
            let tp = self.matrix[k][k] as f64;
            let support: u64 = self.matrix[k].iter().sum();
            let predicted: u64 = (0..4).map(|i| self.matrix[i][k]).sum();
            let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
            let recall = if support > 0 { tp / support as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            if support > 0 {
                f1s.push(f1);
            }
            per_class.insert(name.to_string(), ClassMetrics { precision, recall, f1, support });
        }
        let decisions: u64 = self.matrix.iter().flatten().sum();
        let correct: u64 = (0..4).map(|k| self.matrix[k][k]).sum();
        let abstained: u64 = self.matrix.iter().map(|r| r[4]).sum();
        let other_total: u64 = self.other.iter().sum();
        let other_confident: u64 = self.other[..4].iter().sum();
        let walking_as_transit = {
            let w: u64 = self.matrix[1].iter().sum();
            if w > 0 {
                self.matrix[1][3] as f64 / w as f64
            } else {
                0.0
            }
        };
        Report {
            macro_f1: if f1s.is_empty() { 0.0 } else { f1s.iter().sum::<f64>() / f1s.len() as f64 },
            accuracy: if decisions > 0 { correct as f64 / decisions as f64 } else { 0.0 },
            decisions,
            abstained,
            per_class,
            confusion: ConfusionJson {
                labels: LABELS.iter().map(|s| s.to_string()).collect(),
                // Square, one row per label: no decision has the truth `unknown`, so its row is zeros.
                matrix: self.matrix.iter().map(|r| r.to_vec()).chain(std::iter::once(vec![0; 5])).collect(),
            },
            other: OtherReport {
                decisions: other_total,
                confident: other_confident,
                confident_fraction: if other_total > 0 { other_confident as f64 / other_total as f64 } else { 0.0 },
            },
            walking_as_transit,
        }
    }
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Decisions whose truth is this class.
    pub support: u64,
}

/// The confusion matrix as written to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusionJson {
    /// Row and column labels (`still, walking, running, transit, unknown`).
    pub labels: Vec<String>,
    /// `matrix[i][j]`: decisions whose truth is `labels[i]` and whose output is `labels[j]`.
    pub matrix: Vec<Vec<u64>>,
}

/// How windows labelled `other` were treated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherReport {
    /// Decisions on `other` windows.
    pub decisions: u64,
    /// Of those, given a confident activity (not `unknown`).
    pub confident: u64,
    /// `confident / decisions`.
    pub confident_fraction: f64,
}

/// Everything `eval` reports (the JSON schema of `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Mean F1 over the four activities present in the truth.
    pub macro_f1: f64,
    /// Correct decisions / decisions (activity windows only).
    pub accuracy: f64,
    /// Decisions on windows labelled with one of the four activities.
    pub decisions: u64,
    /// Of those, `unknown`.
    pub abstained: u64,
    /// Per-class metrics.
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// Confusion matrix.
    pub confusion: ConfusionJson,
    /// Windows labelled `other`.
    pub other: OtherReport,
    /// Fraction of walking decisions output as transit.
    pub walking_as_transit: f64,
}

impl Report {
    /// A human-readable table.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{:<10} {:>9} {:>9} {:>9} {:>9}", "class", "precision", "recall", "f1", "support");
        for name in &LABELS[..4] {
            if let Some(m) = self.per_class.get(*name) {
                let _ =
                    writeln!(s, "{:<10} {:>9.3} {:>9.3} {:>9.3} {:>9}", name, m.precision, m.recall, m.f1, m.support);
            }
        }
        let _ = writeln!(
            s,
            "macro-F1 {:.3}   accuracy {:.3}   decisions {}   abstained {} ({:.1}%)",
            self.macro_f1,
            self.accuracy,
            self.decisions,
            self.abstained,
            100.0 * self.abstained as f64 / self.decisions.max(1) as f64
        );
        let _ = writeln!(
            s,
            "other: {} decisions, {} confident ({:.1}%)   walking->transit {:.2}%",
            self.other.decisions,
            self.other.confident,
            100.0 * self.other.confident_fraction,
            100.0 * self.walking_as_transit
        );
        let _ = writeln!(s, "confusion (rows truth, columns output):");
        let _ = writeln!(s, "{:<10} {}", "", LABELS.iter().map(|l| format!("{l:>9}")).collect::<String>());
        for (i, row) in self.confusion.matrix.iter().take(4).enumerate() {
            let _ = writeln!(s, "{:<10} {}", LABELS[i], row.iter().map(|v| format!("{v:>9}")).collect::<String>());
        }
        s
    }
}

/// Assigns groups (subjects) to `k` folds: largest groups first, each to the fold with the fewest windows so far
/// (ties to the lowest fold). Deterministic for a given input; no group is in two folds. With more folds than
/// groups the extra folds stay empty: only `min(k, groups)` fold counters are kept (the assignment is the same, and
/// a huge `k` allocates nothing).
pub fn assign_folds(group_sizes: &BTreeMap<String, usize>, k: usize) -> BTreeMap<String, usize> {
    let mut groups: Vec<(&String, &usize)> = group_sizes.iter().collect();
    groups.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut load = vec![0usize; k.min(groups.len()).max(1)];
    let mut out = BTreeMap::new();
    for (g, n) in groups {
        let (fold, _) = load.iter().enumerate().min_by_key(|(i, l)| (**l, *i)).unwrap_or((0, &0));
        load[fold] = load[fold].saturating_add(*n);
        out.insert(g.clone(), fold);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let mut c = Confusion::default();
        // still: 8 right, 2 as transit; transit: 5 right, 5 still; walking: 9 right, 1 unknown.
        for _ in 0..8 {
            c.add(Some(Label::Still), Activity::Still);
        }
        for _ in 0..2 {
            c.add(Some(Label::Still), Activity::Transit);
        }
        for _ in 0..5 {
            c.add(Some(Label::Transit), Activity::Transit);
            c.add(Some(Label::Transit), Activity::Still);
        }
        for _ in 0..9 {
            c.add(Some(Label::Walking), Activity::Walking);
        }
        c.add(Some(Label::Walking), Activity::Unknown);
        c.add(Some(Label::Other), Activity::Walking);
        c.add(Some(Label::Other), Activity::Unknown);
        c.add(None, Activity::Still);
        let r = c.report();
        let still = &r.per_class["still"];
        assert!((still.precision - 8.0 / 13.0).abs() < 1e-12);
        assert!((still.recall - 0.8).abs() < 1e-12);
        assert_eq!(r.per_class["walking"].precision, 1.0);
        assert!((r.per_class["walking"].recall - 0.9).abs() < 1e-12);
        assert_eq!(r.per_class["running"].support, 0);
        let f1 = |p: f64, r: f64| 2.0 * p * r / (p + r);
        let expect = (f1(8.0 / 13.0, 0.8) + f1(1.0, 0.9) + f1(5.0 / 7.0, 0.5)) / 3.0;
        assert!((r.macro_f1 - expect).abs() < 1e-12, "{} vs {}", r.macro_f1, expect);
        assert_eq!(r.decisions, 30);
        assert_eq!(r.abstained, 1);
        assert_eq!(r.other.decisions, 2);
        assert_eq!(r.other.confident, 1);
        assert_eq!(c.unlabelled, 1);
        assert_eq!(r.confusion.matrix[3], vec![5, 0, 0, 5, 0]);
        assert_eq!(r.confusion.matrix.len(), 5);
        assert!(r.confusion.matrix.iter().all(|row| row.len() == 5));
        assert_eq!(r.confusion.matrix[4], vec![0; 5]);
    }

    #[test]
    fn folds_are_balanced_and_disjoint() {
        let sizes: BTreeMap<String, usize> = (0..10).map(|i| (format!("g{i}"), (i + 1) * 10)).collect();
        let f = assign_folds(&sizes, 3);
        assert_eq!(f.len(), 10);
        let mut load = [0usize; 3];
        for (g, k) in &f {
            load[*k] += sizes[g];
        }
        assert!(load.iter().max().unwrap() - load.iter().min().unwrap() <= 20, "{load:?}");
        assert_eq!(f, assign_folds(&sizes, 3));
    }

    #[test]
    fn more_folds_than_groups_allocate_nothing_and_assign_as_many_folds_as_groups() {
        let sizes: BTreeMap<String, usize> = (0..4).map(|i| (format!("g{i}"), (i % 2) * 10)).collect();
        let exact = assign_folds(&sizes, 4);
        assert_eq!(assign_folds(&sizes, 1000), exact);
        // Would abort on allocation if a counter per fold were kept.
        assert_eq!(assign_folds(&sizes, usize::MAX), exact);
    }
}
