//! The consent gate: per-purpose consent states, the persisted and authenticated audit record, purge on
//! withdrawal, and the consent receipt. Knows nothing about signals.
//!
//! # States
//!
//! | [`ConsentState`] | meaning | Android `ACTIVITY_RECOGNITION` | iOS `CMAuthorizationStatus` |
//! |---|---|---|---|
//! | `NotDetermined` | never asked for this purpose | not yet requested | `.notDetermined` |
//! | `Granted` | granted for this purpose *and* this policy version | granted | `.authorized` |
//! | `Denied` | the user said no | denied | `.denied` (or `.restricted`) |
//! | `Withdrawn` | granted earlier, then withdrawn (GDPR Art. 7(3)) | revoked in settings | `.denied` after `.authorized` |
//! | `ReconsentRequired` | the grant is for another policy version | — (app-level) | — (app-level) |
//!
//! The OS permission is necessary but not sufficient: the host maps a revoked OS permission to
//! [`Gate::withdraw`]. Consent is per purpose: a grant for one purpose opens nothing for another. A recorded grant
//! for an *older* policy version than the one the host opens the gate with is `ReconsentRequired` (and a
//! `policy_changed` entry is logged once, when the gate is opened). A recorded grant for a *newer* version than
//! the host asks for (an app downgrade) is also reported as `ReconsentRequired` (nothing is logged, since the
//! policy did not move forward); neither opens a session.
//!
//! Transitions: `grant` is accepted from every state (a new grant replaces the previous one and stops sessions
//! opened under it: their pushes return [`Gated::Superseded`]); `deny` is refused while consent is granted (use
//! `withdraw`, which purges); `withdraw` from `Granted` or `ReconsentRequired` is logged and purges; from the other
//! states it logs nothing and returns an empty report.
//!
//! # How sessions are stopped (the hot path has no lock that anyone else holds)
//!
//! Each purpose of a record has a channel with an `AtomicU64` epoch. A [`Session`] remembers the epoch it was
//! opened at and compares it on every `push` with one `Acquire` load. The session's signal buffers (the
//! streaming pipeline and its event queue) live in an `Arc<Mutex<..>>` that the channel also references
//! through a `Weak`. The session is the only user of that mutex except a purge, so on the hot path the lock is an
//! uncontended compare-and-swap (no syscall, no allocation).
//!
//! A purge (withdraw, deny, re-grant, policy change) stores the reason, bumps the epoch (`AcqRel`), then locks every
//! live session's mutex in turn and zeroizes its buffers, **before the call returns**, whatever thread the session
//! is used on. A push re-checks the epoch under its lock and between samples, so: a push that takes the lock after
//! the purge sees the new epoch and touches nothing; a push that holds the lock during the purge is waited for,
//! stops at the next sample, and its buffers are wiped right after. No `unsafe`, no lock on the gate check itself.
//!
//! # One record, one in-memory owner
//!
//! Gates opened on the same record file in one process share one verified [`Store`] and one channel per purpose
//! (a process-wide registry keyed by the canonical path holds `Weak` references), so two gates never overwrite each
//! other's entries, and a gate reopened with a newer policy version stops sessions opened through an older gate.
//! Opening a gate re-reads and verifies the file; if it differs from what this process holds, or the key differs,
//! the gate fails closed with [`ConsentError::Tampered`]. The read and the comparison happen under the lock that
//! every writer of the record in this process holds, so writes by other threads (grants, sessions opened or closed)
//! never make an open fail as tampered. Concurrent writers in *different processes* are not
//! supported, nor are hard links to a record: every write renames a new file over the record, so after the first
//! change through one name, a hard link names an older, separate file (symbolic links are resolved and share the
//! record).
//!
//! If writing a withdrawal fails, the withdrawal still takes effect in memory (sessions are stopped and wiped and
//! no new session opens through this record in this process), and the error is returned so the host can retry. The
//! error says what was stopped and wiped ([`ConsentError::purge_report`]), and the entry that finally lands counts
//! it.

mod receipt;
pub mod store;

use crate::model::ModelError;
use crate::pipeline::{Pipeline, PipelineConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use serde::{Deserialize, Serialize};

pub use receipt::{Receipt, DEFAULT_CONTROLLER};
pub use store::{AuditEntry, AuditEvent, Counts, RecordHead, RecordedState, Store};

use crate::session::{Session, SessionCell};

/// Longest purpose name.
pub const MAX_PURPOSE_LEN: usize = 64;

/// Which sensors a grant covers. The accelerometer is required; without the gyroscope, sessions drop gyroscope
/// readings before they reach any buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensors {
    /// Accelerometer (required for classification).
    pub accelerometer: bool,
    /// Gyroscope.
    pub gyroscope: bool,
}

impl Sensors {
    /// Accelerometer and gyroscope.
    pub const ALL: Sensors = Sensors { accelerometer: true, gyroscope: true };
    /// Accelerometer only.
    pub const ACCELEROMETER: Sensors = Sensors { accelerometer: true, gyroscope: false };
}

/// How consent was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionMethod {
    /// A consent dialog inside the app.
    InAppDialog,
    /// The app's settings screen.
    Settings,
    /// The command-line tool.
    Cli,
    /// A programmatic call by the host (e.g. mirroring an OS permission decision).
    Api,
}

impl CollectionMethod {
    /// Name as written in records and receipts.
    pub fn name(self) -> &'static str {
        match self {
            CollectionMethod::InAppDialog => "in_app_dialog",
            CollectionMethod::Settings => "settings",
            CollectionMethod::Cli => "cli",
            CollectionMethod::Api => "api",
        }
    }
}

/// A grant in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The purpose granted.
    pub purpose: String,
    /// The policy version granted.
    pub policy_version: u32,
    /// Sensors covered.
    pub sensors: Sensors,
    /// When, Unix ms.
    pub at_unix_ms: u64,
    /// How it was collected.
    pub method: CollectionMethod,
}

/// The consent state of a gate's purpose, as seen with the gate's policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentState {
    /// Never asked (also: no record file yet).
    NotDetermined,
    /// Granted for this purpose and this policy version.
    Granted(Grant),
    /// Refused.
    Denied {
        /// When, Unix ms.
        at_unix_ms: u64,
    },
    /// Withdrawn.
    Withdrawn {
        /// When, Unix ms.
        at_unix_ms: u64,
    },
    /// The grant on record is for another policy version.
    ReconsentRequired {
        /// The version the user granted.
        granted_policy_version: u32,
        /// The version the host uses now.
        current_policy_version: u32,
    },
}

impl ConsentState {
    /// The state without its data (stable numbers for the C ABI).
    pub fn kind(&self) -> StateKind {
        match self {
            ConsentState::NotDetermined => StateKind::NotDetermined,
            ConsentState::Granted(_) => StateKind::Granted,
            ConsentState::Denied { .. } => StateKind::Denied,
            ConsentState::Withdrawn { .. } => StateKind::Withdrawn,
            ConsentState::ReconsentRequired { .. } => StateKind::ReconsentRequired,
        }
    }

    /// Why no session opens in this state (`None` when granted).
    pub fn gated(&self) -> Option<Gated> {
        match self {
            ConsentState::NotDetermined => Some(Gated::NotDetermined),
            ConsentState::Granted(_) => None,
            ConsentState::Denied { .. } => Some(Gated::Denied),
            ConsentState::Withdrawn { .. } => Some(Gated::Withdrawn),
            ConsentState::ReconsentRequired { .. } => Some(Gated::ReconsentRequired),
        }
    }
}

/// A consent state without its data. The numbers are stable (C ABI `mg_gate_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StateKind {
    /// Never asked.
    NotDetermined = 0,
    /// Granted.
    Granted = 1,
    /// Denied.
    Denied = 2,
    /// Withdrawn.
    Withdrawn = 3,
    /// Re-consent required.
    ReconsentRequired = 4,
}

impl std::fmt::Display for StateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StateKind::NotDetermined => "not determined",
            StateKind::Granted => "granted",
            StateKind::Denied => "denied",
            StateKind::Withdrawn => "withdrawn",
            StateKind::ReconsentRequired => "re-consent required",
        })
    }
}

/// Why the gate refuses live data. The numbers are stable (C ABI status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u8)]
pub enum Gated {
    /// Consent has not been asked for this purpose.
    #[error("consent has not been asked for this purpose yet")]
    NotDetermined = 1,
    /// The user denied consent.
    #[error("consent for this purpose was denied")]
    Denied = 2,
    /// The user withdrew consent.
    #[error("consent for this purpose was withdrawn")]
    Withdrawn = 3,
    /// The policy version changed since the grant (or the grant is for another version): ask again.
    #[error("the privacy policy changed since consent was given; consent must be asked again")]
    ReconsentRequired = 4,
    /// A newer grant replaced the one the session was opened under: open a new session.
    #[error("a newer grant replaced the one this session was opened under; open a new session")]
    Superseded = 5,
}

impl Gated {
    pub(crate) fn from_u8(v: u8) -> Gated {
        match v {
            1 => Gated::NotDetermined,
            2 => Gated::Denied,
            4 => Gated::ReconsentRequired,
            5 => Gated::Superseded,
            _ => Gated::Withdrawn,
        }
    }
}

/// Errors of the consent gate. Messages never contain key bytes or sensor data.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The record file could not be read or written.
    #[error("cannot access the consent record {}: {source}{}", path.display(), withdrawal_note(withdrawal_purged))]
    Io {
        /// The record path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
        /// When [`Gate::withdraw`] returns this error: what that call stopped and wiped although its entry could not
        /// be written (the withdrawal is in effect in memory; see [`ConsentError::purge_report`]). `None` for every
        /// other failure.
        withdrawal_purged: Option<PurgeReport>,
    },
    /// The record is damaged, edited, truncated, reordered or authenticated with another key, or (from
    /// [`Gate::open_expecting`]) is not at the head the host expected; the gate fails closed.
    #[error("the consent record cannot be trusted ({reason}); refusing to open")]
    Tampered {
        /// What failed and where (entry index / seq); never key material.
        reason: String,
    },
    /// The key is shorter than 16 bytes (or absurdly long).
    #[error("the record key must be 16 to 1024 bytes")]
    InvalidKey,
    /// The purpose name is empty, too long or uses characters outside `a-z 0-9 . _ -`.
    #[error("invalid purpose name: 1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit")]
    InvalidPurpose,
    /// A grant must include the accelerometer.
    #[error("a grant must include the accelerometer")]
    InvalidSensors,
    /// The action is not allowed in the current state.
    #[error("cannot {action} while consent is {from}")]
    InvalidTransition {
        /// The current state.
        from: StateKind,
        /// The refused action.
        action: &'static str,
    },
    /// No grant was ever recorded for this purpose (nothing to make a receipt of).
    #[error("no grant has been recorded for this purpose")]
    NoGrant,
    /// The gate is closed for live data.
    #[error(transparent)]
    Gated(#[from] Gated),
    /// The embedded model could not be loaded (a broken build; never a reason to classify without it).
    #[error("the classification model is unavailable: {0}")]
    Model(ModelError),
}

/// The end of an [`ConsentError::Io`] message: what a withdrawal that could not be written did anyway.
fn withdrawal_note(purged: &Option<PurgeReport>) -> String {
    match purged {
        Some(r) => format!(
            "; the withdrawal took effect anyway ({} sessions stopped, {} bytes wiped) but is not recorded yet: retry",
            r.sessions_stopped, r.bytes_wiped
        ),
        None => String::new(),
    }
}

impl ConsentError {
    /// When [`Gate::withdraw`] failed to write its entry: what the call stopped and wiped all the same (the wipe
    /// happens before the write). `None` for every other error, including the errors of the other calls.
    pub fn purge_report(&self) -> Option<PurgeReport> {
        match self {
            ConsentError::Io { withdrawal_purged, .. } => *withdrawal_purged,
            _ => None,
        }
    }

    /// The gated reason, when this is a refusal for lack of consent.
    pub fn gated(&self) -> Option<Gated> {
        match self {
            ConsentError::Gated(g) => Some(*g),
            _ => None,
        }
    }

    /// Process exit code for the CLI: 3 gated (or nothing granted), 4 tampered or unreadable, 2 usage errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConsentError::Gated(_) | ConsentError::NoGrant => 3,
            ConsentError::Tampered { .. } | ConsentError::Io { .. } => 4,
            ConsentError::InvalidKey
            | ConsentError::InvalidPurpose
            | ConsentError::InvalidSensors
            | ConsentError::InvalidTransition { .. } => 2,
            ConsentError::Model(_) => 1,
        }
    }
}

/// What a purge stopped and wiped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PurgeReport {
    /// Live sessions stopped.
    pub sessions_stopped: u64,
    /// Bytes of signal buffers zeroized.
    pub bytes_wiped: u64,
}

impl PurgeReport {
    /// Both purges together (a withdrawal whose first write failed, then retried).
    fn plus(self, other: PurgeReport) -> PurgeReport {
        PurgeReport {
            sessions_stopped: self.sessions_stopped.saturating_add(other.sessions_stopped),
            bytes_wiped: self.bytes_wiped.saturating_add(other.bytes_wiped),
        }
    }
}

/// Checks a purpose name: 1..=64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_purpose(purpose: &str) -> Result<(), ConsentError> {
    let b = purpose.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_PURPOSE_LEN
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ConsentError::InvalidPurpose)
    }
}

/// Locks a mutex, recovering from poisoning (a panic elsewhere must never stop a purge or a log write).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Current time in Unix ms (only for entries whose API has no time parameter: session open/close from `Drop`).
pub(crate) fn now_unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Per-purpose channel between a gate and its sessions.
#[derive(Debug, Default)]
pub(crate) struct Channel {
    epoch: AtomicU64,
    reason: AtomicU8,
    sessions: Mutex<Vec<Weak<SessionCell>>>,
}

impl Channel {
    /// The epoch sessions compare against (one Acquire load).
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Why sessions of an older epoch are stopped.
    pub(crate) fn reason(&self) -> Gated {
        Gated::from_u8(self.reason.load(Ordering::Acquire))
    }

    /// Stops every session of this channel and zeroizes their buffers before returning.
    fn purge(&self, reason: Gated) -> PurgeReport {
        self.reason.store(reason as u8, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut report = PurgeReport::default();
        let mut list = lock(&self.sessions);
        for cell in list.drain(..).filter_map(|w| w.upgrade()) {
            let (bytes, was_live) = cell.wipe(reason);
            report.bytes_wiped += bytes as u64;
            report.sessions_stopped += u64::from(was_live);
        }
        report
    }

    fn register(&self, cell: &Arc<SessionCell>) {
        let mut list = lock(&self.sessions);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(cell));
    }
}

/// One verified record shared by every gate of this process that opened it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    pub(crate) unlogged_closes: AtomicU64,
    /// The registry key (canonical record path).
    canonical: PathBuf,
}

impl Drop for Shared {
    /// Removes this record's (now dead) registry entry, and frees the registry's table once it is empty, so a host
    /// that closes every gate and session leaves nothing behind (leak checkers see no orphaned allocation). Skipped
    /// when the registry is locked by this very thread (a failing `Gate::open`): the next open prunes it.
    fn drop(&mut self) {
        let mut reg = match registry().try_lock() {
            Ok(reg) => reg,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        if reg.get(&self.canonical).is_some_and(|w| w.strong_count() == 0) {
            reg.remove(&self.canonical);
        }
        if reg.is_empty() {
            reg.shrink_to_fit();
        }
    }
}

impl Shared {
    fn channel(&self, purpose: &str) -> Arc<Channel> {
        lock(&self.channels).entry(purpose.to_owned()).or_default().clone()
    }
}

type Registry = Mutex<HashMap<PathBuf, Weak<Shared>>>;

/// A withdrawal in effect in memory whose entry is not on disk yet.
#[derive(Debug, Clone, Copy)]
struct UnpersistedWithdrawal {
    /// Its time (that of the latest attempt to write it).
    at_unix_ms: u64,
    /// What the attempts so far stopped and wiped: the entry that finally lands records it, since by then the
    /// sessions are gone and the retry itself stops nothing.
    purged: PurgeReport,
}

/// Withdrawals that could not be written, by record (canonical path) and purpose, with their time and what they
/// purged: the one place that says a purpose is withdrawn although its record on disk does not. Held strongly for
/// the life of the process, apart from the records' own (weakly registered) state: otherwise freeing the last gate
/// and session after a failed write would drop the withdrawal, and a gate opened again would read the grant back
/// from disk. Every later `Gate::open` of that record and purpose reports `Withdrawn` and retries the write; a
/// grant or deny of the purpose first writes the withdrawal's entry, and a successful grant, deny or withdraw clears it.
type UnpersistedWithdrawals = Mutex<HashMap<(PathBuf, String), UnpersistedWithdrawal>>;

fn unpersisted_withdrawals() -> &'static UnpersistedWithdrawals {
    static PENDING: OnceLock<UnpersistedWithdrawals> = OnceLock::new();
    PENDING.get_or_init(Default::default)
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The registry key of a record: the file's own canonical path when it exists (so a symbolic link to a record and the
/// record itself share one in-memory state, and a withdrawal through either reaches the sessions of both), else
/// the canonical directory joined with the file name.
fn canonical_path(path: &Path) -> Result<PathBuf, ConsentError> {
    let io = |source| ConsentError::Io { path: path.to_path_buf(), source, withdrawal_purged: None };
    if let Ok(resolved) = std::fs::canonicalize(path) {
        return Ok(resolved);
    }
    let name = path.file_name().ok_or_else(|| io(std::io::Error::other("the record path has no file name")))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(parent).map_err(io)?.join(name))
}

/// The consent gate of one purpose, opened with the policy version the host shows the user.
///
/// Maps 1:1 onto the C ABI: `mg_gate_open` = [`Gate::open`], `mg_gate_state` = [`Gate::state`] +
/// [`ConsentState::kind`], `mg_gate_grant` = [`Gate::grant`], `mg_gate_deny` = [`Gate::deny`],
/// `mg_gate_withdraw` = [`Gate::withdraw`] (`bytes_wiped` from the report), `mg_session_open` =
/// [`Gate::open_session`].
#[derive(Debug)]
pub struct Gate {
    shared: Arc<Shared>,
    channel: Arc<Channel>,
    purpose: String,
    policy_version: u32,
}

impl Gate {
    /// Opens (and verifies) the record at `store_path` with the host `key` (16 bytes or more; on phones from
    /// Keystore / Keychain) for `purpose` at `policy_version`. A missing file means `NotDetermined`; a record that
    /// does not verify is [`ConsentError::Tampered`] and no gate is returned. If the record holds a grant for an
    /// older policy version, a `policy_changed` entry is logged (once) and the state is `ReconsentRequired`.
    pub fn open(
        store_path: impl AsRef<Path>,
        key: &[u8],
        purpose: &str,
        policy_version: u32,
    ) -> Result<Gate, ConsentError> {
        Gate::open_checked(store_path.as_ref(), key, purpose, policy_version, None)
    }

    /// [`Gate::open`] for a host that keeps the record's head ([`Gate::head`]) somewhere the record is not: fails
    /// closed with [`ConsentError::Tampered`] unless the record's head is `expected`, and checks it before anything
    /// is written (the `policy_changed` entry, the retry of a withdrawal not yet on disk). This detects what the
    /// MACs cannot: a record rolled back to an older copy, replaced by a copy made elsewhere with the same key, or
    /// deleted (a missing record has the empty head: 0 entries, [`store::GENESIS_HASH`]).
    ///
    /// `expected` must be the head after the latest change through any gate or session of this process, including
    /// a `session_closed` written when a session is dropped; when the record is already open in this process, its
    /// head in memory is the one compared. Opening may itself move the head (a `policy_changed` entry, a retried
    /// withdrawal): keep [`Gate::head`] again after it returns.
    pub fn open_expecting(
        store_path: impl AsRef<Path>,
        key: &[u8],
        purpose: &str,
        policy_version: u32,
        expected: &RecordHead,
    ) -> Result<Gate, ConsentError> {
        Gate::open_checked(store_path.as_ref(), key, purpose, policy_version, Some(expected))
    }

    fn open_checked(
        path: &Path,
        key: &[u8],
        purpose: &str,
        policy_version: u32,
        expected: Option<&RecordHead>,
    ) -> Result<Gate, ConsentError> {
        validate_purpose(purpose)?;
        store::check_key_len(key)?;
        let check_expected = |head: RecordHead| match expected {
            Some(expected) if *expected != head => Err(ConsentError::Tampered {
                reason: format!(
                    "the record's head ({} entries) is not the one the host expected ({} entries): an older copy, \
                     another copy or a deleted record",
                    head.count, expected.count
                ),
            }),
            _ => Ok(()),
        };
        let canonical = canonical_path(path)?;
        // The file is read, verified and compared with what this process holds under the record's store lock,
        // which every writer in this process holds while it writes: a grant, `session_opened` or `session_closed`
        // by another thread can then never land between the read and the comparison and pass for an edit. A first
        // open has no writer yet; it keeps the registry locked while it reads, so that no other gate of the record
        // is created (and writes) in between.
        let shared = {
            let mut reg = lock(registry());
            reg.retain(|_, w| w.strong_count() > 0);
            match reg.get(&canonical).and_then(Weak::upgrade) {
                Some(shared) => {
                    let store = lock(&shared.store);
                    if !store.same_key(key) {
                        return Err(ConsentError::Tampered {
                            reason: "the record is open in this process with a different key".into(),
                        });
                    }
                    let disk = Store::open(path, key)?;
                    if store.head() != disk.head() {
                        return Err(ConsentError::Tampered {
                            reason: "the record on disk differs from the one this process wrote".into(),
                        });
                    }
                    check_expected(store.head())?;
                    drop(store);
                    shared
                }
                None => {
                    let disk = Store::open(path, key)?;
                    check_expected(disk.head())?;
                    let shared = Arc::new(Shared {
                        store: Mutex::new(disk),
                        channels: Mutex::default(),
                        unlogged_closes: AtomicU64::new(0),
                        canonical: canonical.clone(),
                    });
                    reg.insert(canonical, Arc::downgrade(&shared));
                    shared
                }
            }
        };
        let channel = shared.channel(purpose);
        let gate = Gate { shared, channel, purpose: purpose.to_owned(), policy_version };
        gate.detect_policy_change()?;
        gate.retry_unpersisted_withdrawal();
        Ok(gate)
    }

    /// A withdrawal of this record and purpose that an earlier gate could not write: report it (the state is
    /// `Withdrawn` from here on) and try the write again. A failure leaves it pending for the next open; the gate
    /// is returned either way, failing closed.
    fn retry_unpersisted_withdrawal(&self) {
        if let Some(pending) = self.unpersisted_withdrawal() {
            // On success `withdraw` clears the pending entry (writing what it purged); on failure it keeps it.
            let _ = self.withdraw(pending.at_unix_ms);
        }
    }

    fn pending_key(&self) -> (PathBuf, String) {
        (self.shared.canonical.clone(), self.purpose.clone())
    }

    /// When this purpose's withdrawal is in effect but not yet on disk: its time and what it purged.
    fn unpersisted_withdrawal(&self) -> Option<UnpersistedWithdrawal> {
        lock(unpersisted_withdrawals()).get(&self.pending_key()).copied()
    }

    /// Writes this purpose's withdrawal that is in effect but not yet on disk, before a grant or deny is logged after
    /// it: otherwise the log would go from the old grant straight to the new decision, and the withdrawal (with what
    /// it purged) would be missing from the audit trail. Nothing to do when none is pending or the record on disk no
    /// longer grants the purpose. On failure the withdrawal stays pending and the decision is not logged.
    fn persist_pending_withdrawal(&self, store: &mut Store) -> Result<(), ConsentError> {
        let Some(pending) = self.unpersisted_withdrawal() else { return Ok(()) };
        if self.grant_recorded(store) {
            store.append(self.purge_entry(pending.at_unix_ms, AuditEvent::Withdrawn, pending.purged))?;
        }
        self.withdrawal_persisted();
        Ok(())
    }

    /// Whether the record holds a grant for this purpose (at this policy version or an older one): what a
    /// withdrawal ends, and so whether one is logged.
    fn grant_recorded(&self, store: &Store) -> bool {
        matches!(
            store.recorded_state(&self.purpose),
            Some(RecordedState::Granted { .. } | RecordedState::ReconsentRequired { .. })
        )
    }

    /// A log entry for a decision that stopped and wiped sessions, counting what `purged` says.
    fn purge_entry(&self, at_unix_ms: u64, event: AuditEvent, purged: PurgeReport) -> AuditEntry {
        let mut e = AuditEntry::draft(at_unix_ms, event, &self.purpose, self.policy_version);
        e.counts.sessions_stopped = purged.sessions_stopped;
        e.counts.bytes_purged = purged.bytes_wiped;
        e
    }

    /// Records that this purpose's withdrawal is on disk (or was overridden by a newer decision that is).
    fn withdrawal_persisted(&self) {
        lock(unpersisted_withdrawals()).remove(&self.pending_key());
    }

    fn detect_policy_change(&self) -> Result<(), ConsentError> {
        let mut store = lock(&self.shared.store);
        let previous = match store.recorded_state(&self.purpose) {
            Some(RecordedState::Granted { policy_version, .. }) if *policy_version < self.policy_version => {
                *policy_version
            }
            Some(RecordedState::ReconsentRequired { policy_version, .. }) if *policy_version < self.policy_version => {
                *policy_version
            }
            _ => return Ok(()),
        };
        let report = self.channel.purge(Gated::ReconsentRequired);
        let mut e = self.purge_entry(now_unix_ms(), AuditEvent::PolicyChanged, report);
        e.previous_policy_version = Some(previous);
        store.append(e)?;
        Ok(())
    }

    /// The purpose of this gate.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The policy version the host opened the gate with.
    pub fn policy_version(&self) -> u32 {
        self.policy_version
    }

    fn state_locked(&self, store: &Store) -> ConsentState {
        if let Some(pending) = self.unpersisted_withdrawal() {
            return ConsentState::Withdrawn { at_unix_ms: pending.at_unix_ms };
        }
        match store.recorded_state(&self.purpose) {
            None => ConsentState::NotDetermined,
            Some(RecordedState::Granted { policy_version, sensors, method, at_unix_ms, .. }) => {
                if *policy_version == self.policy_version {
                    ConsentState::Granted(Grant {
                        purpose: self.purpose.clone(),
                        policy_version: *policy_version,
                        sensors: *sensors,
                        at_unix_ms: *at_unix_ms,
                        method: *method,
                    })
                } else {
                    ConsentState::ReconsentRequired {
                        granted_policy_version: *policy_version,
                        current_policy_version: self.policy_version,
                    }
                }
            }
            Some(RecordedState::Denied { at_unix_ms, .. }) => ConsentState::Denied { at_unix_ms: *at_unix_ms },
            Some(RecordedState::Withdrawn { at_unix_ms, .. }) => ConsentState::Withdrawn { at_unix_ms: *at_unix_ms },
            Some(RecordedState::ReconsentRequired { granted_policy_version, .. }) => ConsentState::ReconsentRequired {
                granted_policy_version: *granted_policy_version,
                current_policy_version: self.policy_version,
            },
        }
    }

    /// The current state of this gate's purpose at its policy version.
    pub fn state(&self) -> ConsentState {
        self.state_locked(&lock(&self.shared.store))
    }

    /// Records a grant for this purpose and policy version. Accepted in every state; a new grant stops the
    /// sessions opened under the previous one. The accelerometer is required.
    pub fn grant(&self, at_unix_ms: u64, method: CollectionMethod, sensors: Sensors) -> Result<(), ConsentError> {
        if !sensors.accelerometer {
            return Err(ConsentError::InvalidSensors);
        }
        let mut store = lock(&self.shared.store);
        self.persist_pending_withdrawal(&mut store)?;
        let report = self.channel.purge(Gated::Superseded);
        let mut e = self.purge_entry(at_unix_ms, AuditEvent::Granted, report);
        e.sensors = Some(sensors);
        e.method = Some(method);
        store.append(e)?;
        self.withdrawal_persisted();
        Ok(())
    }

    /// Records a refusal. Refused with [`ConsentError::InvalidTransition`] while consent is granted: use
    /// [`Gate::withdraw`], which purges and reports.
    pub fn deny(&self, at_unix_ms: u64) -> Result<(), ConsentError> {
        let mut store = lock(&self.shared.store);
        let state = self.state_locked(&store);
        if state.kind() == StateKind::Granted {
            return Err(ConsentError::InvalidTransition { from: StateKind::Granted, action: "deny" });
        }
        self.persist_pending_withdrawal(&mut store)?;
        let report = self.channel.purge(Gated::Denied);
        store.append(self.purge_entry(at_unix_ms, AuditEvent::Denied, report))?;
        self.withdrawal_persisted();
        Ok(())
    }

    /// Withdraws consent. Before this returns, every open session of this purpose (on any thread) is stopped and its
    /// buffers are zeroized; the report says how many sessions and bytes this call stopped and wiped. Logged when
    /// there was a grant (current or for an older policy); otherwise nothing is logged.
    ///
    /// If the record cannot be written, the withdrawal still takes effect in memory and the I/O error
    /// ([`ConsentError::Io`]) is returned, carrying this call's report ([`ConsentError::purge_report`]); retry to
    /// persist it. The entry that finally lands counts the sessions and bytes of every attempt (a retry finds the
    /// sessions already stopped and reports 0 itself). The withdrawal stays in effect for the rest of the process
    /// even after every gate and session is freed: a gate opened again on the record reports `Withdrawn` and
    /// retries the write. Only a process that ends before any retry succeeds loses it (the record on disk still
    /// holds the grant), so hosts should retry until this returns `Ok`.
    pub fn withdraw(&self, at_unix_ms: u64) -> Result<PurgeReport, ConsentError> {
        let mut store = lock(&self.shared.store);
        let had_grant = self.grant_recorded(&store);
        let report = self.channel.purge(Gated::Withdrawn);
        if !had_grant {
            // Nothing on disk grants this purpose any more (a pending withdrawal's record was overwritten since).
            self.withdrawal_persisted();
            return Ok(report);
        }
        // Earlier attempts of this withdrawal whose write failed already stopped and wiped the sessions.
        let purged = self.unpersisted_withdrawal().map_or(report, |pending| pending.purged.plus(report));
        match store.append(self.purge_entry(at_unix_ms, AuditEvent::Withdrawn, purged)) {
            Ok(_) => {
                self.withdrawal_persisted();
                Ok(report)
            }
            Err(err) => {
                lock(unpersisted_withdrawals())
                    .insert(self.pending_key(), UnpersistedWithdrawal { at_unix_ms, purged });
                Err(match err {
                    ConsentError::Io { path, source, .. } => {
                        ConsentError::Io { path, source, withdrawal_purged: Some(report) }
                    }
                    // Not reached: appending a withdrawal can only fail to write (the replay of the log it extends
                    // cannot fail). The report is still kept for the entry.
                    other => other,
                })
            }
        }
    }

    /// Opens a live session (the only way to classify live samples), logging `session_opened` with the system
    /// clock. Without a grant for this purpose and policy version: [`ConsentError::Gated`] with the reason.
    pub fn open_session(&self) -> Result<Session, ConsentError> {
        self.open_session_at(now_unix_ms())
    }

    /// [`Gate::open_session`] with an explicit time for the log entry.
    pub fn open_session_at(&self, at_unix_ms: u64) -> Result<Session, ConsentError> {
        let mut store = lock(&self.shared.store);
        let grant = match self.state_locked(&store) {
            ConsentState::Granted(g) => g,
            other => return Err(ConsentError::Gated(other.gated().unwrap_or(Gated::NotDetermined))),
        };
        // Build the buffers first: a model that cannot load must not leave a `session_opened` entry behind.
        let pipeline = Pipeline::new(PipelineConfig::default()).map_err(ConsentError::Model)?;
        let mut e = AuditEntry::draft(at_unix_ms, AuditEvent::SessionOpened, &self.purpose, self.policy_version);
        let id = store.entries().len() as u64;
        e.session = Some(id);
        store.append(e)?;
        // The epoch cannot move while we hold the store lock: every purge happens under it.
        let epoch = self.channel.epoch();
        let session = Session::new(
            pipeline,
            id,
            epoch,
            grant.sensors,
            self.purpose.clone(),
            self.policy_version,
            self.channel.clone(),
            self.shared.clone(),
        );
        self.channel.register(session.cell());
        Ok(session)
    }

    /// A copy of the whole audit log (every purpose), oldest first.
    pub fn log(&self) -> Vec<AuditEntry> {
        lock(&self.shared.store).entries().to_vec()
    }

    /// Length and last hash of the record (keep it elsewhere to detect a rollback of the whole file with
    /// [`Gate::open_expecting`]).
    pub fn head(&self) -> RecordHead {
        lock(&self.shared.store).head()
    }

    /// How many `session_closed` entries could not be written when sessions were dropped.
    pub fn unlogged_session_closes(&self) -> u64 {
        self.shared.unlogged_closes.load(Ordering::Relaxed)
    }

    /// A consent receipt for the latest grant of this purpose, with the default controller name.
    pub fn receipt(&self) -> Result<Receipt, ConsentError> {
        self.receipt_with(DEFAULT_CONTROLLER, None)
    }

    /// A consent receipt naming the `controller` (the host app or its publisher) and an optional jurisdiction.
    pub fn receipt_with(&self, controller: &str, jurisdiction: Option<&str>) -> Result<Receipt, ConsentError> {
        let store = lock(&self.shared.store);
        let state = self.state_locked(&store);
        let entry = store
            .entries()
            .iter()
            .rev()
            .find(|e| e.event == AuditEvent::Granted && e.purpose == self.purpose)
            .ok_or(ConsentError::NoGrant)?;
        Ok(Receipt::build(&store, entry, &state, controller, jurisdiction))
    }
}
