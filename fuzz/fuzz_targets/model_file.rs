//! The model loader on arbitrary bytes: a typed error, or a model that predicts without panicking and
//! re-serialises to bytes that load to the same model.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use motiongate::features::N_FEATURES;
use motiongate::Model;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Model::from_bytes(data) {
        // A walk of every tree (of both pairs) must end and stay in bounds, whatever the features.
        for x in [0.0f32, -1e30, 1e30, f32::NAN] {
            for rate in [0.0f32, 1.0, 10.0, 50.0, f32::NAN] {
                for holds_gravity in [true, false] {
                    if let Some(p) = m.predict(&[x; N_FEATURES], &[x; N_FEATURES], rate, holds_gravity) {
                        assert!(p.iter().all(|v| v.is_finite()));
                    }
                }
            }
        }
        let again = m.to_bytes();
        let back = Model::from_bytes(&again).expect("a model's own bytes load");
        assert_eq!(back.to_bytes(), again);
    }
});
