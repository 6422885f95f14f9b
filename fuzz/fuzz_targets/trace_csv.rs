//! The canonical trace CSV reader on arbitrary bytes: a typed error or a valid trace, never a panic.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use motiongate::sample::{MAX_ACCEL_MS2, MAX_GYRO_RADS};
use motiongate::trace::csv::read_trace_csv_from;

fuzz_target!(|data: &[u8]| {
    if let Ok(trace) = read_trace_csv_from(std::io::Cursor::new(data), "fuzz.csv") {
        // What the reader accepts is what a session accepts.
        assert!(!trace.samples.is_empty());
        assert!(trace.labels.is_empty() || trace.labels.len() == trace.samples.len());
        for w in trace.samples.windows(2) {
            assert!(w[0].t_ns < w[1].t_ns);
        }
        for s in &trace.samples {
            assert!(s.accel.iter().all(|x| x.is_finite() && x.abs() <= MAX_ACCEL_MS2));
            if let Some(g) = s.gyro {
                assert!(g.iter().all(|x| x.is_finite() && x.abs() <= MAX_GYRO_RADS));
            }
        }
    }
});
