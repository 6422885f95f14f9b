//! Dataset readers on arbitrary file contents. The readers take paths (they pick the format from the file name),
//! so the bytes are written to a temp file (or folder layout) with the expected name; the first byte picks which of
//! the eight readers runs (its value mod 8). For the five readers that take a file path (tags 0 to 4), bit 3 of the
//! first byte also reads the file through the gzip path (`.gz` name): compressed intact, it must read exactly as
//! the plain file; with bits 4-5 it is cut in half (must fail), has a byte flipped, or has junk appended.
#![no_main]
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::tmp_root;
use motiongate::datasets::{
    adeptdata_running, basicmotions, hapt, motionsense, paris_metro_sensorlogger, sp_sw_har, us_transportation_tmd,
    wisdm2019_phone_accel, LoadReport, ReadError,
};
use motiongate::trace::Trace;

/// File names of the readers that take a path (tags 0 to 4).
const FILE_NAMES: [&str; 5] = [
    "user01_rec1.csv",
    "sub_1.csv",
    "s01_02_sp.csv",
    "sensorfile_user_Car_1480000000000.csv",
    "data_1600_accel_phone.txt",
];

/// Reads `path` with the path-taking reader `tag` (0 to 4).
fn read_file(tag: u8, path: &Path) -> Result<Vec<Trace>, ReadError> {
    match tag {
        0 => hapt::load_file(path).map(|t| vec![t]),
        1 => motionsense::load_file(path, 1, "wlk", 1).map(|t| vec![t]),
        2 => sp_sw_har::load_file(path, &mut LoadReport::default()).map(|t| vec![t]),
        3 => us_transportation_tmd::load_file(path, &mut LoadReport::default()).map(|t| t.into_iter().collect()),
        _ => wisdm2019_phone_accel::load_file(path, &mut LoadReport::default()),
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(body).expect("write to a Vec");
    enc.finish().expect("finish to a Vec")
}

/// The gzip path: `body` compressed (and damaged as `which` says) under `name` + `.gz`, read and compared with
/// `plain`, the result of reading `body` uncompressed.
fn check_gzip(dir: &Path, which: u8, body: &[u8], plain: &Result<Vec<Trace>, ReadError>) {
    let tag = which % 8;
    let mut gz = gzip(body);
    match (which >> 4) & 3 {
        0 => {}
        1 => gz.truncate(gz.len() / 2),
        2 => {
            let mid = gz.len() / 2;
            gz[mid] ^= 0xFF;
        }
        _ => gz.extend_from_slice(&body[..body.len().min(16)]),
    }
    let path: PathBuf = dir.join(format!("{}.gz", FILE_NAMES[usize::from(tag)]));
    std::fs::write(&path, &gz).expect("write");
    let r = read_file(tag, &path);
    match (which >> 4) & 3 {
        0 => match (plain, &r) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len());
                for (a, b) in a.iter().zip(b) {
                    assert!(a.samples == b.samples && a.labels == b.labels, "the gzip path changed a trace");
                }
            }
            (Err(_), Err(_)) => {}
            _ => panic!("the gzip path changed the outcome: {:?} vs {:?}", plain.as_ref().err(), r.as_ref().err()),
        },
        1 => assert!(r.is_err(), "a gzip stream cut in half was accepted"),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let dir = tempfile::Builder::new().tempdir_in(tmp_root()).expect("tempdir");
    let write = |name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).expect("write");
        p
    };
    let tag = which % 8;
    let r: Result<Vec<Trace>, _> = match tag {
        0..=4 => read_file(tag, &write(FILE_NAMES[usize::from(tag)])),
        5 => {
            write("acc_running.csv");
            adeptdata_running::load(dir.path())
        }
        6 => {
            write("Accelerometer.csv");
            paris_metro_sensorlogger::load_ride(dir.path(), &mut LoadReport::default()).map(|t| vec![t])
        }
        _ => {
            write("BasicMotions_TRAIN.csv");
            write("BasicMotions_TEST.csv");
            basicmotions::load(dir.path())
        }
    };
    if tag <= 4 && which & 0x08 != 0 {
        check_gzip(dir.path(), which, body, &r);
    }
    for t in r.into_iter().flatten() {
        assert!(t.labels.is_empty() || t.labels.len() == t.samples.len());
        for w in t.samples.windows(2) {
            assert!(w[0].t_ns < w[1].t_ns, "dataset readers produce strictly increasing time");
        }
        for s in &t.samples {
            assert!(s.check_values().is_ok(), "dataset readers produce only valid samples");
        }
    }
});
