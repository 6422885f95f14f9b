//! Dataset readers on arbitrary file contents. The readers take paths (they pick the format from the file name),
//! so the bytes are written to a temp file with the expected name; the first byte picks the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use motiongate::datasets::{hapt, motionsense, sp_sw_har, LoadReport};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let dir = tempfile::Builder::new().tempdir_in(tmp_root()).expect("tempdir");
    let r = match which % 3 {
        0 => {
            let p = dir.path().join("user01_rec1.csv");
            std::fs::write(&p, body).expect("write");
            hapt::load_file(&p)
        }
        1 => {
            let p = dir.path().join("sub_1.csv");
            std::fs::write(&p, body).expect("write");
            motionsense::load_file(&p, 1, "wlk", 1)
        }
        _ => {
            let p = dir.path().join("s01_02_sp.csv");
            std::fs::write(&p, body).expect("write");
            sp_sw_har::load_file(&p, &mut LoadReport::default())
        }
    };
    if let Ok(t) = r {
        assert!(t.labels.is_empty() || t.labels.len() == t.samples.len());
        for w in t.samples.windows(2) {
            assert!(w[0].t_ns < w[1].t_ns, "dataset readers produce strictly increasing time");
        }
        for s in &t.samples {
            assert!(s.check_values().is_ok(), "dataset readers produce only valid samples");
        }
    }
});

fn tmp_root() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
