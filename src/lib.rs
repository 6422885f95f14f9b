//! motiongate: consent-gated, on-device classification of walking, running, still and transit from phone motion.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod consent;
pub mod event;
pub mod pipeline;
pub mod sample;
pub mod session;

#[cfg(feature = "offline")]
pub mod datasets;
#[cfg(feature = "offline")]
pub mod trace;

pub use consent::{CollectionMethod, ConsentError, ConsentState, Gate, Gated, PurgeReport, Sensors};
pub use event::{ActivityEvent, EventKind};
pub use sample::{Activity, Label, Sample, SampleError};
pub use session::{Session, SessionError};
