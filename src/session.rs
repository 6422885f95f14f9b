//! The gated streaming engine: the only live entry point. A [`Session`] is opened by
//! [`crate::consent::Gate::open_session`] for the gate's purpose, checks the gate on every push (one atomic
//! `Acquire` load of the purpose's epoch; no lock that anyone else holds), and is stopped and zeroized by a
//! withdrawal before the withdraw call returns (see [`crate::consent`] for the design).
//!
//! A `Session` holds raw samples in its buffers and deliberately does not implement `serde::Serialize`.
//! What leaves it is [`ActivityEvent`]: an activity, a confidence and times.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crate::consent::{lock, now_unix_ms, AuditEntry, AuditEvent, Channel, ConsentError, Gated, Sensors, Shared};
use crate::event::ActivityEvent;
use crate::pipeline::{Pipeline, SliceStop};
use crate::sample::{Sample, SampleError};

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Consent no longer holds (or never did) for this session; its buffers have been wiped.
    #[error(transparent)]
    Gated(#[from] Gated),
    /// Sample `index` of the slice was refused; the samples before it were accepted, the rest were not looked at.
    #[error("sample {index} refused: {error}")]
    InvalidSample {
        /// Index in the pushed slice.
        index: usize,
        /// What is wrong (never a sensor value).
        #[source]
        error: SampleError,
    },
}

/// What [`Session::close`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSummary {
    /// Windows classified over the session's life.
    pub windows_classified: u64,
}

#[derive(Debug)]
struct Engine {
    pipeline: Pipeline,
    wiped: bool,
}

/// The buffers of one session, shared (through `Weak`) with the purpose channel so a purge can wipe them.
#[derive(Debug)]
pub(crate) struct SessionCell {
    engine: Mutex<Engine>,
    /// Why this session was stopped (`Gated as u8`, 0 while live): the first purge that reached it.
    stopped: AtomicU8,
}

impl SessionCell {
    /// Zeroizes the buffers for a purge with `reason`; returns (bytes wiped, whether the session was still live).
    pub(crate) fn wipe(&self, reason: Gated) -> (usize, bool) {
        let _ = self.stopped.compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        let mut e = lock(&self.engine);
        let was_live = !e.wiped;
        let bytes = e.pipeline.wipe();
        e.wiped = true;
        (bytes, was_live)
    }
}

/// `Ok` while the purpose's epoch is the one a session was opened at, else why it was stopped.
#[inline]
fn check(cell: &SessionCell, channel: &Channel, epoch: u64) -> Result<(), Gated> {
    if channel.epoch() == epoch {
        Ok(())
    } else {
        // The reason recorded for this session, or (while the purge is still on its way to it) the channel's.
        match cell.stopped.load(Ordering::Acquire) {
            0 => Err(channel.reason()),
            r => Err(Gated::from_u8(r)),
        }
    }
}

/// A read-only view of one session's consent status, from [`Session::status_probe`]: `Send + Sync`, holds no
/// signal data, and stays valid after the session is dropped (it then reports why the session was stopped, or
/// `None` if it was closed while consent held).
#[derive(Debug, Clone)]
pub struct SessionStatus {
    cell: Arc<SessionCell>,
    channel: Arc<Channel>,
    epoch: u64,
}

impl SessionStatus {
    /// `None` while consent holds for the session, else why it is stopped (one atomic load).
    pub fn gated(&self) -> Option<Gated> {
        check(&self.cell, &self.channel, self.epoch).err()
    }
}

/// A live classification session for one purpose. Not `Serialize`, not `Clone`; `Send` so a sensor thread can own
/// it. Dropping it wipes its buffers and logs `session_closed`.
#[derive(Debug)]
pub struct Session {
    cell: Arc<SessionCell>,
    channel: Arc<Channel>,
    shared: Arc<Shared>,
    epoch: u64,
    id: u64,
    gyroscope_allowed: bool,
    purpose: String,
    policy_version: u32,
    closed: bool,
}

impl Session {
    #[allow(clippy::too_many_arguments)] // one call site, in Gate::open_session_at
    pub(crate) fn new(
        pipeline: Pipeline,
        id: u64,
        epoch: u64,
        sensors: Sensors,
        purpose: String,
        policy_version: u32,
        channel: Arc<Channel>,
        shared: Arc<Shared>,
    ) -> Session {
        let engine = Engine { pipeline, wiped: false };
        Session {
            cell: Arc::new(SessionCell { engine: Mutex::new(engine), stopped: AtomicU8::new(0) }),
            channel,
            shared,
            epoch,
            id,
            gyroscope_allowed: sensors.gyroscope,
            purpose,
            policy_version,
            closed: false,
        }
    }

    pub(crate) fn cell(&self) -> &Arc<SessionCell> {
        &self.cell
    }

    #[inline]
    fn check(&self) -> Result<(), Gated> {
        check(&self.cell, &self.channel, self.epoch)
    }

    /// A probe of this session's consent status that another thread can hold and read while this session is in
    /// use (for example a UI thread polling while a sensor thread pushes). It shares no buffer with the session.
    pub fn status_probe(&self) -> SessionStatus {
        SessionStatus { cell: self.cell.clone(), channel: self.channel.clone(), epoch: self.epoch }
    }

    /// Whether the grant this session was opened under covers the gyroscope (when not, gyroscope readings are
    /// dropped before any buffer).
    pub fn gyroscope_allowed(&self) -> bool {
        self.gyroscope_allowed
    }

    /// The session id (the `seq` of its `session_opened` entry).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// `None` while consent holds, else why this session is stopped.
    pub fn gated(&self) -> Option<Gated> {
        self.check().err()
    }

    /// Feeds samples (in time order). Returns the number of events produced, to be taken with
    /// [`Session::next_event`]. Once consent has ended, returns [`SessionError::Gated`] and touches nothing.
    /// Gyroscope readings are dropped before any buffer when the grant does not cover the gyroscope. Never
    /// allocates.
    pub fn push(&mut self, samples: &[Sample]) -> Result<usize, SessionError> {
        self.check()?;
        let mut engine = lock(&self.cell.engine);
        let emitted_before = engine.pipeline.events_emitted();
        // Re-checked under the lock and before every sample: a concurrent purge is never overtaken.
        engine.pipeline.push_slice(samples, self.gyroscope_allowed, || self.check()).map_err(|stop| match stop {
            SliceStop::Stopped { reason, .. } => SessionError::Gated(reason),
            SliceStop::Invalid { index, error } => SessionError::InvalidSample { index, error },
        })?;
        Ok((engine.pipeline.events_emitted() - emitted_before) as usize)
    }

    /// Takes the oldest pending event; `None` when there is none or consent has ended (pending events are wiped
    /// with the buffers).
    pub fn next_event(&mut self) -> Option<ActivityEvent> {
        self.check().ok()?;
        let mut engine = lock(&self.cell.engine);
        self.check().ok()?;
        engine.pipeline.next_event()
    }

    /// Windows classified so far (0 after a wipe resets nothing: the counter is not signal data).
    pub fn windows_classified(&self) -> u64 {
        lock(&self.cell.engine).pipeline.windows_classified()
    }

    /// True when no buffer of this session holds a non-zero byte of signal data (for tests and audits).
    pub fn raw_buffers_are_zero(&self) -> bool {
        lock(&self.cell.engine).pipeline.raw_buffers_are_zero()
    }

    /// Wipes the buffers and logs `session_closed` at `at_unix_ms` with the windows classified.
    pub fn close(mut self, at_unix_ms: u64) -> Result<SessionSummary, ConsentError> {
        self.closed = true;
        self.finish(at_unix_ms)
    }

    fn finish(&mut self, at_unix_ms: u64) -> Result<SessionSummary, ConsentError> {
        let windows_classified = {
            let mut engine = lock(&self.cell.engine);
            let n = engine.pipeline.windows_classified();
            engine.pipeline.wipe();
            engine.wiped = true;
            n
        };
        let mut e = AuditEntry::draft(at_unix_ms, AuditEvent::SessionClosed, &self.purpose, self.policy_version);
        e.session = Some(self.id);
        e.counts.windows_classified = windows_classified;
        lock(&self.shared.store).append(e)?;
        Ok(SessionSummary { windows_classified })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.finish(now_unix_ms()).is_err() {
            self.shared.unlogged_closes.fetch_add(1, Ordering::Relaxed);
        }
    }
}
