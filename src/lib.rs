//! motiongate: consent-gated, on-device classification of walking, running, still and transit from phone motion.
//!
//! Nothing is classified, buffered or even read until the user has granted consent for a purpose and a policy
//! version: the only live entry point is a [`Session`], and only a [`Gate`] holding a valid grant opens one.
//! Withdrawal stops every session of the purpose and zeroizes its buffers before the call returns.
//!
//! ```
//! use motiongate::consent::{CollectionMethod, Gate, Sensors};
//! use motiongate::{ConsentError, Gated, Sample};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("motiongate-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let key = [42u8; 32]; // on a phone this comes from the Keystore / Keychain
//! let gate = Gate::open(dir.join("consent.json"), &key, "activity-recognition", 1)?;
//!
//! // Default deny: no session before the user decides.
//! assert!(matches!(gate.open_session(), Err(ConsentError::Gated(Gated::NotDetermined))));
//!
//! gate.grant(1_700_000_000_000, CollectionMethod::InAppDialog, Sensors::ALL)?;
//! let mut session = gate.open_session()?;
//! // 20 s of a phone bouncing at 1.8 Hz (a synthetic signal, just to show the calls), 50 Hz.
//! let samples: Vec<Sample> = (0..1000)
//!     .map(|i| {
//!         let t = i as f32 / 50.0;
//!         Sample::accel(i * 20_000_000, 0.3, 0.5, 9.8 + 2.5 * (std::f32::consts::TAU * 1.8 * t).sin())
//!     })
//!     .collect();
//! session.push(&samples)?;
//! let mut updates = 0;
//! while let Some(event) = session.next_event() {
//!     updates += (event.kind == motiongate::EventKind::Update) as usize;
//! }
//! assert!(updates > 0);
//!
//! // Withdrawal: one call, the session stops and its buffers are wiped.
//! let purge = gate.withdraw(1_700_000_060_000)?;
//! assert_eq!(purge.sessions_stopped, 1);
//! assert!(session.push(&samples[..1]).is_err());
//! assert!(session.raw_buffers_are_zero());
//! # drop(session);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Index loops over fixed-size signal arrays read like the maths they implement.
#![allow(clippy::needless_range_loop)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod consent;
pub mod dft100;
pub mod sample;
pub mod session;

/// Declares the stages of the streaming pipeline: public for the offline tools (which classify recorded traces on
/// a desktop) and crate-private otherwise, so that a phone build offers no path from samples to an activity but a
/// consent-gated [`Session`]. Each stage alone (resampling, fusion, windows, features, the model's prediction, the
/// smoother) is a piece of that path, so none of them is public there either.
macro_rules! pipeline_stages {
    ($($stage:ident;)*) => {$(
        #[cfg(feature = "offline")]
        pub mod $stage;
        #[cfg(not(feature = "offline"))]
        #[allow(dead_code)]
        pub(crate) mod $stage;
    )*};
}
pipeline_stages! {
    event;
    features;
    fusion;
    model;
    pipeline;
    resample;
    smooth;
    window;
}

#[cfg(feature = "offline")]
pub mod datasets;
#[cfg(feature = "offline")]
pub mod eval;
#[cfg(feature = "offline")]
pub mod offline;
#[cfg(feature = "cli")]
pub mod report;
#[cfg(feature = "offline")]
pub mod trace;
#[cfg(feature = "train")]
pub mod train;

pub use consent::{CollectionMethod, ConsentError, ConsentState, Gate, Gated, PurgeReport, Sensors};
pub use event::{ActivityEvent, EventKind};
#[cfg(feature = "offline")]
pub use model::Model;
pub use model::ModelError;
pub use pipeline::{GyroscopeCheck, RefusedWindows};
pub use sample::{Activity, Label, Sample, SampleError};
pub use session::{Session, SessionError, SessionStatus, SessionSummary};
