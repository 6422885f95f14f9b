//! motiongate: consent-gated, on-device classification of walking, running, still and transit from phone motion.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Index loops over fixed-size signal arrays read like the maths they implement.
#![allow(clippy::needless_range_loop)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod consent;
pub mod event;
pub mod features;
pub mod fusion;
pub mod model;
// The streaming pipeline classifies whatever it is fed, so it is public only for the offline tools; a phone
// build reaches it only through a consent-gated `Session`.
#[cfg(feature = "offline")]
pub mod pipeline;
#[cfg(not(feature = "offline"))]
#[allow(dead_code)]
pub(crate) mod pipeline;
pub mod resample;
pub mod sample;
pub mod session;
pub mod smooth;
pub mod window;

#[cfg(feature = "offline")]
pub mod datasets;
#[cfg(feature = "offline")]
pub mod eval;
#[cfg(feature = "offline")]
pub mod offline;
#[cfg(feature = "offline")]
pub mod trace;
#[cfg(feature = "train")]
pub mod train;

pub use consent::{CollectionMethod, ConsentError, ConsentState, Gate, Gated, PurgeReport, Sensors};
pub use event::{ActivityEvent, EventKind};
pub use model::{Model, ModelError};
pub use sample::{Activity, Label, Sample, SampleError};
pub use session::{Session, SessionError};
