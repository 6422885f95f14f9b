//! The gated streaming engine: the only live entry point. A [`Session`] is opened by
//! [`crate::consent::Gate::open_session`] for the gate's purpose, checks the gate on every push (one atomic
//! `Acquire` load of the purpose's epoch), and is stopped and zeroized by a withdrawal before the withdraw call
//! returns (see [`crate::consent`] for the design). Each push takes the session's own engine lock once (not per
//! sample); nothing else takes it but a purge, which holds it while it wipes, so a push may wait behind a
//! withdrawal, never behind another session or the audit log.
//!
//! A `Session` holds raw samples in its buffers and deliberately does not implement `serde::Serialize`.
//! What leaves it is [`ActivityEvent`]: an activity, a confidence and times.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::consent::{lock, now_unix_ms, AuditEntry, AuditEvent, Channel, ConsentError, Gated, Sensors, Shared};
use crate::event::ActivityEvent;
use crate::pipeline::{GyroscopeCheck, Pipeline, RefusedWindows, SliceStop};
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
    /// An internal error (a panic) interrupted a call on this session. Its buffers were wiped while the panic
    /// unwound and it refuses every later push: drop it and open a new session.
    #[error("an internal error stopped this session and wiped its buffers; open a new session")]
    Faulted,
}

/// What [`Session::close`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSummary {
    /// Windows classified over the session's life.
    pub windows_classified: u64,
    /// Of those, the windows whose input held no gravity (see [`Session::windows_without_gravity`]).
    pub windows_without_gravity: u64,
    /// Of those, the windows refused unjudged, by reason (see [`Session::windows_refused`]).
    pub windows_refused: RefusedWindows,
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
    /// Set (for good) when a call panicked while holding the engine: its state is suspect, so it was wiped.
    faulted: AtomicBool,
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

/// The engine, locked for one call on a session. A call that panics while holding it fails closed: the buffers
/// are wiped as the panic unwinds (before the lock is released), and the session is faulted for good.
struct EngineGuard<'a> {
    cell: &'a SessionCell,
    engine: MutexGuard<'a, Engine>,
}

impl EngineGuard<'_> {
    fn fault(&mut self) {
        self.engine.pipeline.wipe();
        self.engine.wiped = true;
        self.cell.faulted.store(true, Ordering::Release);
    }
}

impl Drop for EngineGuard<'_> {
    fn drop(&mut self) {
        // Also true when the call itself completed inside another panic's unwinding (a push from a `Drop`): the
        // session is then faulted without need, which errs on the side of wiping.
        if std::thread::panicking() {
            self.fault();
        }
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

    /// True once an internal error (a panic) stopped the session and wiped its buffers (see
    /// [`SessionError::Faulted`]).
    pub fn faulted(&self) -> bool {
        self.cell.faulted.load(Ordering::Acquire)
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
            cell: Arc::new(SessionCell {
                engine: Mutex::new(engine),
                stopped: AtomicU8::new(0),
                faulted: AtomicBool::new(false),
            }),
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

    /// Locks the engine for a push or an event, refusing (and wiping, if that has not happened yet) when a panic
    /// has ever interrupted a call that held it: a poisoned lock means the buffers may be half-updated.
    fn engine(&self) -> Result<EngineGuard<'_>, SessionError> {
        let (engine, poisoned) = match self.cell.engine.lock() {
            Ok(g) => (g, false),
            Err(p) => (p.into_inner(), true),
        };
        let mut guard = EngineGuard { cell: &self.cell, engine };
        if poisoned {
            guard.fault();
            // Faulted for good from here on: later calls are refused by the flag, without wiping again.
            self.cell.engine.clear_poison();
        }
        if self.faulted() {
            return Err(SessionError::Faulted);
        }
        Ok(guard)
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

    /// True once an internal error (a panic) stopped this session and wiped its buffers: every later push
    /// returns [`SessionError::Faulted`].
    pub fn faulted(&self) -> bool {
        self.cell.faulted.load(Ordering::Acquire)
    }

    /// Feeds samples (in time order). Returns the number of events produced, to be taken with
    /// [`Session::next_event`]; the queue holds the last 64, so after a long push without taking events the oldest
    /// `Update`s are gone (transitions are kept first). Once consent has ended, returns [`SessionError::Gated`] and
    /// touches nothing.
    ///
    /// A refused sample ([`SessionError::InvalidSample`]) is not taken, and the samples before it are. A device clock
    /// that jumps back makes every later sample [`SampleError::TimeBackwards`] until it passes the last accepted
    /// time: close the session and open a new one to start over from the new clock.
    /// Gyroscope readings are dropped before any buffer when the grant does not cover the gyroscope. Never
    /// allocates. If a push ever panics, the buffers are wiped as it unwinds and every later push returns
    /// [`SessionError::Faulted`].
    pub fn push(&mut self, samples: &[Sample]) -> Result<usize, SessionError> {
        self.check()?;
        let mut guard = self.engine()?;
        let engine = &mut *guard.engine;
        let emitted_before = engine.pipeline.events_emitted();
        // Re-checked under the lock and before every sample: a concurrent purge is never overtaken.
        engine.pipeline.push_slice(samples, self.gyroscope_allowed, || self.check()).map_err(|stop| match stop {
            SliceStop::Stopped { reason, .. } => SessionError::Gated(reason),
            SliceStop::Invalid { index, error } => SessionError::InvalidSample { index, error },
        })?;
        Ok((engine.pipeline.events_emitted() - emitted_before) as usize)
    }

    /// Takes the oldest pending event; `None` when there is none, when consent has ended (pending events are wiped
    /// with the buffers) or when the session is faulted.
    pub fn next_event(&mut self) -> Option<ActivityEvent> {
        self.check().ok()?;
        let mut guard = self.engine().ok()?;
        self.check().ok()?;
        guard.engine.pipeline.next_event()
    }

    /// Windows classified so far (0 after a wipe resets nothing: the counter is not signal data).
    pub fn windows_classified(&self) -> u64 {
        lock(&self.cell.engine).pipeline.windows_classified()
    }

    /// Of [`Session::windows_classified`], the windows whose input held no gravity: the app is feeding linear
    /// acceleration (Android's `TYPE_LINEAR_ACCELERATION`, iOS's `userAcceleration`) rather than the raw
    /// accelerometer the model expects, and decisions are less reliable (the model then has no vertical axis; model
    /// card, Known weaknesses).
    /// Windows refused unjudged (a dead sensor, acceleration in g) are not counted. A count, not signal data: a
    /// wipe does not reset it.
    pub fn windows_without_gravity(&self) -> u64 {
        lock(&self.cell.engine).pipeline.windows_without_gravity()
    }

    /// Of [`Session::windows_classified`], the windows refused unjudged and reported `Unknown`, by reason: a dead
    /// sensor (no variation at all), or acceleration in g where m/s^2 are expected (iOS's CoreMotion reports g:
    /// multiply by -9.80665). A count that grows with the windows classified means the app feeds input the model
    /// cannot use as it is. A count, not signal data: a wipe does not reset it.
    pub fn windows_refused(&self) -> RefusedWindows {
        lock(&self.cell.engine).pipeline.windows_refused()
    }

    /// What the session found about its gyroscope ([`GyroscopeCheck`]): windows whose gravity
    /// estimate the gyroscope turned away from the gravity the accelerometer shows, and whether the gyroscope is
    /// ignored from then on (after 10 s of such windows; gravity then comes from the accelerometer alone). Rates in
    /// deg/s where rad/s are expected do this (Expo's `DeviceMotion.rotationRate` is in deg/s: multiply by
    /// 0.0174533). A count, not signal data: a wipe does not reset it.
    pub fn gyroscope_check(&self) -> GyroscopeCheck {
        lock(&self.cell.engine).pipeline.gyroscope_check()
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
        let (windows_classified, windows_without_gravity, windows_refused) = {
            let mut engine = lock(&self.cell.engine);
            let p = &engine.pipeline;
            let counts = (p.windows_classified(), p.windows_without_gravity(), p.windows_refused());
            engine.pipeline.wipe();
            engine.wiped = true;
            counts
        };
        let mut e = AuditEntry::draft(at_unix_ms, AuditEvent::SessionClosed, &self.purpose, self.policy_version);
        e.session = Some(self.id);
        e.counts.windows_classified = windows_classified;
        lock(&self.shared.store).append(e)?;
        Ok(SessionSummary { windows_classified, windows_without_gravity, windows_refused })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{CollectionMethod, Gate, Sensors};

    fn granted_session(dir: &std::path::Path) -> (Gate, Session) {
        let gate = Gate::open(dir.join("consent.log"), b"session-unit-test-key-0123", "activity", 1).unwrap();
        gate.grant(1, CollectionMethod::InAppDialog, Sensors::ALL).unwrap();
        let session = gate.open_session().unwrap();
        (gate, session)
    }

    fn samples(from: i64, n: i64) -> Vec<Sample> {
        (from..from + n).map(|i| Sample::with_gyro(i * 20_000_000, [0.3, -0.2, 9.7], [0.01, 0.02, -0.03])).collect()
    }

    /// A panic inside a call that holds the engine (none is known: the push path is fuzzed) must fail closed:
    /// nothing it buffered survives, and the session refuses to go on with state the panic may have half-updated.
    #[test]
    fn a_panic_while_the_engine_is_held_wipes_the_buffers_and_faults_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let (_gate, mut session) = granted_session(dir.path());
        let probe = session.status_probe();
        session.push(&samples(0, 300)).unwrap();
        assert!(!session.raw_buffers_are_zero(), "the positive control: a live session holds raw data");
        assert!(!session.faulted() && !probe.faulted());

        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = session.engine().unwrap();
            panic!("a bug inside a push");
        }));
        assert!(caught.is_err());
        assert!(session.raw_buffers_are_zero(), "the buffers are wiped as the panic unwinds");
        assert!(session.faulted() && probe.faulted());
        assert_eq!(session.push(&samples(300, 10)), Err(SessionError::Faulted));
        assert_eq!(session.next_event(), None);
        assert!(session.raw_buffers_are_zero(), "a refused push buffers nothing");
    }

    /// A lock poisoned by a panic elsewhere (not through a push) is treated the same way on the next push.
    #[test]
    fn a_poisoned_engine_lock_faults_the_session_on_the_next_push() {
        let dir = tempfile::tempdir().unwrap();
        let (_gate, mut session) = granted_session(dir.path());
        session.push(&samples(0, 300)).unwrap();
        let cell = session.cell().clone();
        let caught = std::thread::spawn(move || {
            let _held = cell.engine.lock().unwrap();
            panic!("a bug while holding the engine");
        })
        .join();
        assert!(caught.is_err());
        assert!(!session.faulted(), "not known until the next call takes the lock");
        assert!(!session.raw_buffers_are_zero());
        assert_eq!(session.push(&samples(300, 10)), Err(SessionError::Faulted));
        assert!(session.faulted());
        assert!(session.raw_buffers_are_zero());
    }

    #[test]
    fn a_healthy_session_is_not_faulted() {
        let dir = tempfile::tempdir().unwrap();
        let (_gate, mut session) = granted_session(dir.path());
        let emitted = session.push(&samples(0, 1000)).unwrap();
        assert!(emitted > 0, "20 s of samples classify windows");
        assert!(session.next_event().is_some());
        assert!(!session.faulted());
    }
}
