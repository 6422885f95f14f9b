//! Dataset readers on arbitrary file contents. The readers take paths (they pick the format from the file name),
//! so the bytes are written to a temp file (or folder layout) with the expected name; the first byte picks which of
//! the eight readers runs.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::tmp_root;
use motiongate::datasets::{
    adeptdata_running, basicmotions, hapt, motionsense, paris_metro_sensorlogger, sp_sw_har, us_transportation_tmd,
    wisdm2019_phone_accel, LoadReport,
};
use motiongate::trace::Trace;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let dir = tempfile::Builder::new().tempdir_in(tmp_root()).expect("tempdir");
    let write = |name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).expect("write");
        p
    };
    let r: Result<Vec<Trace>, _> = match which % 8 {
        0 => {
            let p = dir.path().join("user01_rec1.csv");
            std::fs::write(&p, body).expect("write");
            hapt::load_file(&p).map(|t| vec![t])
        }
        1 => {
            let p = dir.path().join("sub_1.csv");
            std::fs::write(&p, body).expect("write");
            motionsense::load_file(&p, 1, "wlk", 1).map(|t| vec![t])
        }
        2 => {
            let p = dir.path().join("s01_02_sp.csv");
            std::fs::write(&p, body).expect("write");
            sp_sw_har::load_file(&p, &mut LoadReport::default()).map(|t| vec![t])
        }
        3 => us_transportation_tmd::load_file(
            &write("sensorfile_user_Car_1480000000000.csv"),
            &mut LoadReport::default(),
        )
        .map(|t| t.into_iter().collect()),
        4 => wisdm2019_phone_accel::load_file(&write("data_1600_accel_phone.txt"), &mut LoadReport::default()),
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
