//! The signal pipeline behind a session: validate -> resample -> fusion -> window -> features -> model -> smoothing.
//!
//! `Pipeline` is not a public way to classify live data: the crate only exposes it under the `offline` feature for
//! recorded traces; on a phone the only entry point is [`crate::session::Session`], which the consent gate opens.
//! (Skeleton: filled in by the pipeline work; the API below is fixed.)

use crate::event::EventQueue;
use crate::sample::{Sample, SampleError, StreamValidator};

/// Tunables of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Capacity of the event queue.
    pub event_capacity: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { event_capacity: 64 }
    }
}

/// The streaming pipeline. All buffers are allocated in [`Pipeline::new`]; `push` never allocates.
#[derive(Debug)]
pub struct Pipeline {
    validator: StreamValidator,
    events: EventQueue,
    windows_classified: u64,
    samples_accepted: u64,
}

impl Pipeline {
    /// Builds a pipeline around the embedded default model.
    pub fn new(config: PipelineConfig) -> Self {
        Pipeline {
            validator: StreamValidator::new(),
            events: EventQueue::with_capacity(config.event_capacity),
            windows_classified: 0,
            samples_accepted: 0,
        }
    }

    /// Feeds one sample; decisions and transitions are appended to the internal event queue.
    pub fn push(&mut self, s: &Sample) -> Result<(), SampleError> {
        self.validator.check(s)?;
        self.samples_accepted += 1;
        Ok(())
    }

    /// Takes the oldest pending event.
    pub fn next_event(&mut self) -> Option<crate::event::ActivityEvent> {
        self.events.pop()
    }

    /// Number of windows classified since creation.
    pub fn windows_classified(&self) -> u64 {
        self.windows_classified
    }

    /// Number of samples accepted since creation.
    pub fn samples_accepted(&self) -> u64 {
        self.samples_accepted
    }

    /// Zeroizes every buffer that holds raw or derived signal data and resets the stream; returns the number of
    /// bytes wiped.
    pub fn wipe(&mut self) -> usize {
        self.validator.reset();
        self.events.clear();
        0
    }

    /// True when no buffer holds a non-zero byte of signal data (used by tests after a purge).
    pub fn raw_buffers_are_zero(&self) -> bool {
        true
    }
}
