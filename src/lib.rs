//! motiongate: consent-gated, on-device classification of walking, running, still and transit from phone motion.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod event;
pub mod pipeline;
pub mod sample;

#[cfg(feature = "offline")]
pub mod datasets;
#[cfg(feature = "offline")]
pub mod trace;

pub use event::{ActivityEvent, EventKind};
pub use sample::{Activity, Label, Sample, SampleError};
