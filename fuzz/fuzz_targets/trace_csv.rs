//! The canonical trace CSV reader on arbitrary bytes: a typed error or a valid trace, never a panic. The bytes are
//! read twice, from one buffer and through a reader that hands out 1 to 7 bytes per `fill_buf` (as a pipe, socket
//! or decompressor may), so lines split across buffers are joined; both reads must give the same result.
#![no_main]
#![forbid(unsafe_code)]

use std::io::{BufRead, Read};

use libfuzzer_sys::fuzz_target;
use motiongate::sample::{MAX_ACCEL_MS2, MAX_GYRO_RADS};
use motiongate::trace::csv::read_trace_csv_from;

/// A `BufRead` over `data` whose buffer holds 1 to 7 bytes at a time, the sizes cycling from `seed`.
struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    fills: usize,
    seed: usize,
    /// End of the current buffer (`pos..end`), set by `fill_buf` and kept until it is consumed.
    end: usize,
}

impl<'a> Trickle<'a> {
    fn new(data: &'a [u8]) -> Self {
        let seed = data.first().map_or(0, |&b| usize::from(b));
        Trickle { data, pos: 0, fills: 0, seed, end: 0 }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Trickle<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.end {
            let len = 1 + (self.seed + self.fills * 3) % 7;
            self.fills += 1;
            self.end = (self.pos + len).min(self.data.len());
        }
        Ok(&self.data[self.pos..self.end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.end);
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = read_trace_csv_from(std::io::Cursor::new(data), "fuzz.csv");
    let trickled = read_trace_csv_from(Trickle::new(data), "fuzz.csv");
    match (&whole, &trickled) {
        (Ok(a), Ok(b)) => {
            assert!(a.meta == b.meta && a.samples == b.samples && a.labels == b.labels, "chunking changed the trace")
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "chunking changed the error"),
        _ => panic!("chunking changed the outcome: {:?} vs {:?}", whole.as_ref().err(), trickled.as_ref().err()),
    }
    if let Ok(trace) = whole {
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
