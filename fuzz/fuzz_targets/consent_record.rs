//! A consent record file with arbitrary contents: `Store::open` and `Gate::open` verify it or fail closed,
//! never panic. A record that does verify (only reachable from a seed with the fuzz key) must keep working.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::tmp_root;
use motiongate::consent::{CollectionMethod, ConsentError, Gate, Sensors, Store};

/// The key the seed records were made with (see fuzz/README.md).
const KEY: &[u8] = b"motiongate-fuzz-key-0123456789ab";

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::Builder::new().tempdir_in(tmp_root()).expect("tempdir");
    let path = dir.path().join("consent.json");
    std::fs::write(&path, data).expect("write record");
    match Store::open(&path, KEY) {
        Ok(_) => {}
        Err(ConsentError::Tampered { .. }) => {}
        Err(e) => panic!("unexpected error kind for a bad record: {e:?}"),
    }
    if let Ok(gate) = Gate::open(&path, KEY, "activity", 1) {
        let _ = gate.state();
        let _ = gate.receipt();
        if gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).is_ok() {
            let s = gate.open_session().expect("granted gate opens a session");
            drop(s);
            gate.withdraw(1_700_000_001_000).expect("withdraw");
        }
        drop(gate);
        Store::open(&path, KEY).expect("a record this process wrote verifies");
    }
});
