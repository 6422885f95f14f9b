//! Allocation and memory budget of the live path.
//!
//! A counting global allocator (wrapping `System`) counts heap allocations made *on the current thread while it
//! is armed*. The test opens a gated session, warms it up with 30 s of the real excerpt, then streams the rest
//! and requires zero allocations inside every `Session::push` and `Session::next_event` call.
//!
//! To find what allocates: `MG_ALLOC_BACKTRACE=1 cargo test --test alloc -- --nocapture` prints a backtrace of
//! the first allocation made while armed.
//!
//! This file alone uses `unsafe` (the `GlobalAlloc` impl); the crate itself forbids it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use motiongate::consent::{CollectionMethod, Gate, Sensors};
use motiongate::pipeline::{Pipeline, PipelineConfig};
use motiongate::trace::csv::read_trace_csv;
use motiongate::{Model, Sample};

struct Counting;

static BACKTRACE_WANTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    // Per thread: the tests run in parallel, and another test's armed allocations must not count here.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note_alloc() {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    if ARMED.try_with(|a| a.get()).unwrap_or(false) {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        if BACKTRACE_WANTED.swap(false, Ordering::Relaxed) {
            // Disarm while capturing: printing a backtrace allocates.
            ARMED.with(|a| a.set(false));
            eprintln!("first allocation while armed:\n{}", std::backtrace::Backtrace::force_capture());
            ARMED.with(|a| a.set(true));
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counter only reads a thread-local `Cell<bool>`
// and bumps a thread-local `Cell<u64>` (both const-initialised, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's `GlobalAlloc` contract holds for these arguments, and `System` takes the same one.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's `GlobalAlloc` contract holds for these arguments, and `System` takes the same one.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's `GlobalAlloc` contract holds for these arguments, and `System` takes the same one.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's `GlobalAlloc` contract holds for these arguments, and `System` takes the same one.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while running `f`.
fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCS.with(Cell::get);
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, ALLOCS.with(Cell::get) - before)
}

const KEY: &[u8] = b"alloc-test-key-0123456789";

fn excerpt() -> Vec<Sample> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/hapt_user01_rec1_excerpt.csv");
    read_trace_csv(std::path::Path::new(path)).expect("read excerpt").samples
}

/// Streams `rest` in chunks of `chunk` samples through `session`; returns (allocations, events, windows).
fn stream_counting(session: &mut motiongate::Session, rest: &[Sample], chunk: usize) -> (u64, usize) {
    let mut allocs = 0;
    let mut events = 0;
    for c in rest.chunks(chunk) {
        let (r, n) = count(|| session.push(c));
        r.expect("push accepted");
        allocs += n;
        loop {
            let (ev, n) = count(|| session.next_event());
            allocs += n;
            match ev {
                Some(_) => events += 1,
                None => break,
            }
        }
    }
    (allocs, events)
}

#[test]
fn the_counter_counts() {
    let (v, n) = count(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert!(n >= 1, "positive control: a Vec allocation must be counted");
}

/// A granted gate and a session warmed up with the first 30 s of `samples` (FFT buffers, queues, lazily
/// initialised statics); returns the rest of the samples.
fn warm_session<'a>(dir: &std::path::Path, samples: &'a [Sample]) -> (Gate, motiongate::Session, &'a [Sample]) {
    let gate = Gate::open(dir.join("consent.json"), KEY, "activity", 1).unwrap();
    gate.grant(1_700_000_000_000, CollectionMethod::Api, Sensors::ALL).unwrap();
    let mut session = gate.open_session().unwrap();
    let (warm, rest) = samples.split_at(1500);
    session.push(warm).unwrap();
    while session.next_event().is_some() {}
    (gate, session, rest)
}

#[test]
fn push_and_next_event_never_allocate() {
    BACKTRACE_WANTED.store(std::env::var_os("MG_ALLOC_BACKTRACE").is_some(), Ordering::Relaxed);
    let samples = excerpt();
    let dir = tempfile::tempdir().unwrap();
    let (_gate, mut session, rest) = warm_session(dir.path(), &samples);
    let windows_before = session.windows_classified();

    let (allocs, events) = stream_counting(&mut session, rest, 25);
    let windows = session.windows_classified() - windows_before;
    println!("streamed {} samples: {windows} windows, {events} events, {allocs} allocations", rest.len());
    assert!(windows > 80, "the stream must classify windows ({windows})");
    assert!(events > 0);
    assert_eq!(allocs, 0, "push/next_event allocated {allocs} times (rerun with MG_ALLOC_BACKTRACE=1)");
}

#[test]
fn sample_by_sample_and_after_a_gap_never_allocate() {
    let samples = excerpt();
    let dir = tempfile::tempdir().unwrap();
    let (_gate, mut session, rest) = warm_session(dir.path(), &samples);
    // A 2-minute gap (restarts the stream and resets the smoother), then the rest one sample at a time.
    let shifted: Vec<Sample> = rest
        .iter()
        .map(|s| {
            let mut s = *s;
            s.t_ns += 120_000_000_000;
            s
        })
        .collect();
    let (allocs, events) = stream_counting(&mut session, &shifted, 1);
    println!("after a gap: {events} events, {allocs} allocations");
    assert!(events > 0);
    assert_eq!(allocs, 0);
}

#[test]
fn pipeline_buffers_under_64_kib() {
    let p = Pipeline::new(PipelineConfig::default()).unwrap();
    let bytes = p.buffer_bytes();
    println!("Pipeline::buffer_bytes() = {bytes} B ({:.1} KiB)", bytes as f64 / 1024.0);
    assert!(bytes < 64 * 1024, "{bytes} B");
}

#[test]
fn embedded_model_under_256_kib() {
    let m = Model::embedded().unwrap();
    let bytes = m.to_bytes().len();
    assert_eq!(bytes, m.serialized_len());
    println!("embedded model: {bytes} B ({:.1} KiB)", bytes as f64 / 1024.0);
    assert!(bytes < 256 * 1024, "embedded model is {bytes} B ({:.1} KiB), budget 256 KiB", bytes as f64 / 1024.0);
}
