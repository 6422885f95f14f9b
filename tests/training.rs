//! Training on real recordings: the shipped model family is deterministic, learns something real, and the embedded
//! model is what `motiongate train` produces from the data (checked by its format, not by retraining everything).
#![cfg(feature = "train")]

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
    // Training accuracy on the dense windows it saw: far above chance (20% for five classes).
    let (mut right, mut total) = (0usize, 0usize);
    for tw in &sets {
        for w in tw.windows.iter().filter(|w| w.classifiable && w.input_rate_hz >= 8.0) {
            let Some((label, purity)) = w.truth else { continue };
            if purity < 0.9 {
                continue;
            }
            let Some(p) = a.predict(&w.features, &w.slow_features, w.input_rate_hz) else { continue };
            let best = p.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).map(|(i, _)| i).unwrap_or(0);
            right += usize::from(best == label as usize);
            total += 1;
        }
    }
    assert!(total > 1000);
    assert!(right as f64 / total as f64 > 0.7, "{right}/{total}");
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
