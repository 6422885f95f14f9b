//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/data` relative to the crate root, or `None` (after printing `skipped: ../shared/data not found`) when
/// it is missing. Panics instead when the environment variable `CI` is `true`: CI must have the data.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/data not found at {} and CI=true", dir.display());
    }
    println!("skipped: ../shared/data not found");
    None
}
