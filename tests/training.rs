//! Training on real recordings: the shipped model family is deterministic, learns something real, and the embedded
//! model is what `motiongate train` produces from the data (checked by its format, not by retraining everything).
#![cfg(feature = "train")]
#![forbid(unsafe_code)]

mod common;

use motiongate::datasets::DatasetKind;
use motiongate::model::Classifier;
use motiongate::pipeline::PipelineConfig;
use motiongate::train::{self, Family, ForestParams, TrainOptions};
use motiongate::{Activity, Model};

/// Windows of a few real datasets that together cover still, walking, running, transit and other.
fn real_sets() -> Option<Vec<train::TraceWindows>> {
    let root = common::shared_data_dir()?;
    let mut traces = Vec::new();
    for kind in [DatasetKind::HaptKcc2020, DatasetKind::AdeptdataRunning, DatasetKind::UsTransportationTmd] {
        traces.extend(kind.load(&root.join(kind.folder_name())).expect("dataset loads"));
    }
    Some(train::windows_for(&traces, &PipelineConfig::default(), false).expect("features"))
}

#[test]
fn linear_training_is_deterministic_and_learns() {
    let Some(sets) = real_sets() else { return };
    let opts = TrainOptions {
        family: Family::Linear,
        params: ForestParams { per_class: 400, ..ForestParams::default() },
        ..TrainOptions::default()
    };
    let a = train::build_model(sets.iter(), &opts, "test".into()).expect("train");
    let b = train::build_model(sets.iter(), &opts, "test".into()).expect("train again");
    assert_eq!(a.to_bytes(), b.to_bytes(), "same data and seed must give the same bytes");
    // The shipped pieces: `other` as two (dense) and three (sparse) sub-classes, summed back into five classes.
    let map = |c: &Classifier| match c {
        Classifier::Linear(l) => l.subclass_of.clone(),
        Classifier::Forest(_) => panic!("the linear family gives linear classifiers"),
    };
    assert_eq!(map(&a.file().dense), vec![0, 1, 2, 3, 4, 4]);
    assert_eq!(map(&a.file().sparse), vec![0, 1, 2, 3, 4, 4, 4]);
    // The gravity-free pair has the same shape.
    assert_eq!(map(&a.file().free_dense), vec![0, 1, 2, 3, 4, 4]);
    assert_eq!(map(&a.file().free_sparse), vec![0, 1, 2, 3, 4, 4, 4]);
    assert_ne!(a.file().free_dense, a.file().dense, "the gravity-free pair learns from other features");
    // Training accuracy on the dense windows it learned from, as they are and seen blind to gravity by the
    // gravity-free pair: far above chance (20% for five classes).
    for blind in [false, true] {
        let (mut right, mut total) = (0usize, 0usize);
        for tw in &sets {
            for w in tw.windows.iter().filter(|w| w.learnable && w.input_rate_hz >= 8.0) {
                let Some((label, purity)) = w.truth else { continue };
                if purity < 0.9 {
                    continue;
                }
                let b = w.gravity_blind.as_ref().expect("training windows carry their gravity-blind features");
                let p = if blind {
                    a.predict(&b[0], &b[1], w.input_rate_hz, false)
                } else {
                    a.predict(&w.features, &w.slow_features, w.input_rate_hz, w.holds_gravity)
                };
                let Some(p) = p else { continue };
                let best = p.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).map(|(i, _)| i).unwrap_or(0);
                right += usize::from(best == label as usize);
                total += 1;
            }
        }
        assert!(total > 1000);
        assert!(right as f64 / total as f64 > 0.7, "blind {blind}: {right}/{total}");
    }
}

#[test]
fn embedded_model_is_a_valid_current_model() {
    let m = Model::embedded().expect("the embedded model loads");
    assert_eq!(m.file().schema_version, motiongate::features::SCHEMA_VERSION);
    assert!(m.file().trained_on.contains("hapt_kcc2020"), "{}", m.file().trained_on);
    assert_eq!(m.to_bytes(), std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.mgm")).unwrap());
    // The card next to it describes it.
    let card = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.md")).unwrap();
    assert!(card.contains("Cross-validation"), "models/default.md must hold the cross-validation results");
    let _ = Activity::CLASSES;
}

#[test]
fn cross_validation_evidence_replays_to_its_decisions() {
    use motiongate::event::EventQueue;
    use motiongate::smooth::Smoother;
    let Some(root) = common::shared_data_dir() else { return };
    // Every class in every fold's training part: MotionSense (running), HAPT (other), TMD (transit, and gaps).
    let mut traces = Vec::new();
    for kind in [DatasetKind::MotionSense, DatasetKind::HaptKcc2020, DatasetKind::UsTransportationTmd] {
        traces.extend(kind.load(&root.join(kind.folder_name())).expect("dataset loads"));
    }
    let cfg = PipelineConfig::default();
    let sets = train::windows_for(&traces, &cfg, false).expect("features");
    let opts = TrainOptions {
        family: Family::Linear,
        params: ForestParams { per_class: 300, ..ForestParams::default() },
        ..TrainOptions::default()
    };
    let cv = train::cross_validate(&sets, &sets, 3, &opts, &cfg, |_| {}).expect("cross-validation");
    assert_eq!(cv.evidence.len(), cv.decisions.len());
    let (mut classified, mut resets, mut decisions_seen) = (0usize, 0usize, 0usize);
    for ((meta, decisions), evidence) in cv.decisions.iter().zip(&cv.evidence) {
        assert_eq!(decisions.len(), evidence.len(), "{}", meta.name());
        // The classifier's probabilities and the reset flags are what the smoother saw: fed to a fresh smoother
        // they give the same decisions.
        let mut smoother = Smoother::new(cfg.smoother.clone(), [0.2; 5]);
        let mut queue = EventQueue::with_capacity(8);
        for (d, e) in decisions.iter().zip(evidence) {
            if e.smoother_reset {
                smoother.reset();
                resets += 1;
            }
            if let Some(p) = e.probs {
                assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-3, "{p:?}");
                classified += 1;
            }
            let start_ns = (d.start_s * 1e9).round() as i64;
            let end_ns = (d.end_s * 1e9).round() as i64;
            let replayed = smoother.step(e.probs.as_ref(), start_ns, end_ns, &mut queue);
            while queue.pop().is_some() {}
            assert_eq!(replayed.activity, d.activity, "{} at {} s", meta.name(), d.start_s);
            decisions_seen += 1;
        }
    }
    assert!(classified > 10_000 && classified <= decisions_seen, "{classified} of {decisions_seen}");
    // TMD's event-driven logs have gaps long enough to reset the smoother.
    assert!(resets > 0);
    // Several test sets scored by fold models trained once: each result is the one cross_validate gives alone.
    let decimated: Vec<_> =
        traces.iter().map(|t| motiongate::offline::decimate(t, 20.0).unwrap_or_else(|_| t.clone())).collect();
    let decimated = train::windows_for(&decimated, &cfg, false).expect("features");
    let both = train::cross_validate_sets(&sets, &[&sets, &decimated], 3, &opts, &cfg, |_| {}).expect("sets");
    let alone = train::cross_validate(&sets, &decimated, 3, &opts, &cfg, |_| {}).expect("decimated");
    let names = |r: &train::CvResult| r.decisions.iter().map(|(m, d)| (m.name(), d.clone())).collect::<Vec<_>>();
    assert_eq!(both.len(), 2);
    assert_eq!(names(&both[0]), names(&cv));
    assert_eq!(names(&both[1]), names(&alone));
    assert_ne!(names(&both[0]), names(&both[1]), "decimation changes some decision");
}
