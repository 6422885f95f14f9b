//! The persisted consent record: per-purpose state plus an append-only, hash-chained, HMAC-authenticated audit log.
//!
//! # File format (`format_version` 1)
//!
//! One JSON document, written atomically (unique temp file in the same directory, `sync_all`, rename over the
//! old file, then `sync_all` on the directory where the platform allows it). Shown condensed here; the file is
//! pretty-printed, one field a line (see the canonical form below):
//!
//! ```json
//! {
//!   "format": "motiongate-consent-record",
//!   "format_version": 1,
//!   "states": { "activity": { "state": "granted", "policy_version": 3, ... } },
//!   "entries": [
//!     { "seq": 0, "at_unix_ms": 1700000000000, "event": "granted", "purpose": "activity",
//!       "policy_version": 3, "sensors": { "accelerometer": true, "gyroscope": false },
//!       "method": "in_app_dialog",
//!       "counts": { "windows_classified": 0, "sessions_stopped": 0, "bytes_purged": 0 },
//!       "prev_hash": "0000…0000", "mac": "…64 hex…" }
//!   ],
//!   "head": { "count": 1, "last_hash": "…64 hex…", "mac": "…64 hex…" }
//! }
//! ```
//!
//! * The *canonical bytes* of an entry are its compact JSON (`serde_json::to_vec`, field order as declared in
//!   [`AuditEntry`]) with `mac` set to the empty string. `prev_hash` is the lower-case hex SHA-256 of the previous
//!   entry's canonical bytes (64 zeros for the first entry); `mac` is HMAC-SHA256 with the host key over
//!   `"motiongate/entry/v1\0"` followed by the canonical bytes (so the MAC covers `prev_hash`).
//! * `head` commits to the length and the last hash: its `mac` is HMAC-SHA256 over `"motiongate/head/v1\0"`,
//!   the count as 8 little-endian bytes and the `last_hash` text. Deleting the last entries (say, a withdrawal)
//!   therefore needs a new head MAC, which only the key holder can make.
//! * `states` is informational for humans and tools: the state is **derived by replaying the verified log** and
//!   the stored `states` must equal the replay, otherwise the record is `Tampered`. Editing `states` alone can
//!   never fake a grant.
//! * The file must be byte for byte what this crate writes for its contents: `serde_json`'s pretty printer
//!   (two-space indent, fields in declared order, `states` sorted by purpose, no escapes it would not write, no
//!   trailing newline). The MACs cover the parsed values, not the file's spelling, so after everything else
//!   verifies, the parsed record is encoded again and must give exactly the bytes read. Added or removed
//!   whitespace, reordered fields, `\u` escapes and duplicate keys (of which a parser keeps one, not always the
//!   same) therefore fail closed instead of changing the file unnoticed.
//! * Unknown fields, duplicate fields, a spelling other than the canonical one, trailing bytes, a wrong `seq`, a
//!   broken chain, a bad MAC, a wrong head or a state that disagrees with the log all make [`Store::open`] fail
//!   with [`ConsentError::Tampered`]. A missing file is an empty record (every purpose `NotDetermined`).
//!
//! Not detectable by the file alone: replacing the whole file with an *older, complete* copy made with the same
//! key (a rollback). A host that cares can keep [`Store::head`] in its own protected storage and open the gate
//! with [`super::Gate::open_expecting`], which refuses another head before anything is written.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{CollectionMethod, ConsentError, Sensors};

/// The `format` string of a record file.
pub const FORMAT_NAME: &str = "motiongate-consent-record";
/// The record format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Shortest accepted host key, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// Longest accepted host key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest record [`Store::open`] reads, bytes (64 MiB); a larger file is refused as [`ConsentError::Tampered`] (the
/// gate fails closed) before it is read whole. An entry takes a few hundred bytes, and a session adds two
/// (`session_opened`, `session_closed`: about 950 bytes, measured), so a record reaches the limit after about 70,000
/// sessions; every change rewrites the whole record, so each write also grows slower (about 2.5 ms per session on
/// average over the first 1,000 on a desktop). Hosts should keep one session per sensing period, not one per batch
/// of samples. The record is not compacted yet.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;
/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const ENTRY_DOMAIN: &[u8] = b"motiongate/entry/v1\0";
const HEAD_DOMAIN: &[u8] = b"motiongate/head/v1\0";
const RECEIPT_DOMAIN: &[u8] = b"motiongate/receipt/v1\0";

type HmacSha256 = Hmac<Sha256>;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// The user granted consent for the purpose at the policy version.
    Granted,
    /// The user refused.
    Denied,
    /// The user withdrew an earlier grant; `counts` says what was purged.
    Withdrawn,
    /// The host opened the gate with a newer policy version than the one granted; re-consent is required.
    PolicyChanged,
    /// A session was opened (`session` is its id).
    SessionOpened,
    /// A session was closed or dropped (`counts.windows_classified` says how much it classified).
    SessionClosed,
}

impl AuditEvent {
    /// Lower-case name as written in the record.
    pub fn name(self) -> &'static str {
        match self {
            AuditEvent::Granted => "granted",
            AuditEvent::Denied => "denied",
            AuditEvent::Withdrawn => "withdrawn",
            AuditEvent::PolicyChanged => "policy_changed",
            AuditEvent::SessionOpened => "session_opened",
            AuditEvent::SessionClosed => "session_closed",
        }
    }
}

/// Counters attached to an audit entry. Never a sample or a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Windows a session classified (on `session_closed`).
    pub windows_classified: u64,
    /// Live sessions stopped by this event.
    pub sessions_stopped: u64,
    /// Bytes of signal buffers zeroized by this event.
    pub bytes_purged: u64,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When it happened, Unix milliseconds (given by the host).
    pub at_unix_ms: u64,
    /// What happened.
    pub event: AuditEvent,
    /// The purpose it concerns.
    pub purpose: String,
    /// The policy version in force for the event (the new version for `policy_changed`).
    pub policy_version: u32,
    /// For `policy_changed`: the version that was current before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_policy_version: Option<u32>,
    /// For `granted`: the sensors covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensors: Option<Sensors>,
    /// For `granted`: how consent was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<CollectionMethod>,
    /// For `session_opened` / `session_closed`: the session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// Counters.
    pub counts: Counts,
    /// Hex SHA-256 of the previous entry's canonical bytes.
    pub prev_hash: String,
    /// Hex HMAC-SHA256 of this entry's canonical bytes.
    pub mac: String,
}

impl AuditEntry {
    /// A blank entry for `event`; [`Store`] fills `seq`, `prev_hash` and `mac` when it appends it.
    pub(crate) fn draft(at_unix_ms: u64, event: AuditEvent, purpose: &str, policy_version: u32) -> Self {
        AuditEntry {
            seq: 0,
            at_unix_ms,
            event,
            purpose: purpose.to_owned(),
            policy_version,
            previous_policy_version: None,
            sensors: None,
            method: None,
            session: None,
            counts: Counts::default(),
            prev_hash: String::new(),
            mac: String::new(),
        }
    }

    /// The canonical bytes (compact JSON with an empty `mac`) that the hash chain and the MAC cover.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut c = self.clone();
        c.mac.clear();
        serde_json::to_vec(&c).unwrap_or_default()
    }

    /// Hex SHA-256 of the canonical bytes (the next entry's `prev_hash`).
    pub fn hash_hex(&self) -> String {
        hex(&Sha256::digest(self.canonical_bytes()))
    }
}

/// The state of one purpose as derived from the log (independent of the policy version a host asks for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecordedState {
    /// Granted at `policy_version`.
    Granted {
        /// Policy version granted.
        policy_version: u32,
        /// Sensors covered.
        sensors: Sensors,
        /// How consent was collected.
        method: CollectionMethod,
        /// When, Unix ms.
        at_unix_ms: u64,
        /// `seq` of the grant entry.
        seq: u64,
    },
    /// Denied.
    Denied {
        /// Policy version shown when denied.
        policy_version: u32,
        /// When, Unix ms.
        at_unix_ms: u64,
    },
    /// Withdrawn.
    Withdrawn {
        /// Policy version in force when withdrawn.
        policy_version: u32,
        /// When, Unix ms.
        at_unix_ms: u64,
    },
    /// A grant exists for an older policy; the policy moved on.
    ReconsentRequired {
        /// The version the user granted.
        granted_policy_version: u32,
        /// The newer version the host now uses.
        policy_version: u32,
        /// When the change was detected, Unix ms.
        at_unix_ms: u64,
    },
}

/// Length and last hash of a record: what a host can keep elsewhere to detect a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordHead {
    /// Number of entries.
    pub count: u64,
    /// Hash of the last entry (`GENESIS_HASH` when empty).
    pub last_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadFile {
    count: u64,
    last_hash: String,
    mac: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordFile {
    format: String,
    format_version: u32,
    states: BTreeMap<String, RecordedState>,
    entries: Vec<AuditEntry>,
    head: HeadFile,
}

/// Fault injection for the crash-safety tests: where the atomic write stops as if the process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Fault {
    /// No fault.
    None,
    /// Only the first `n` bytes reach the temp file, then the writer "dies" (no fsync, no rename).
    StopAfter(usize),
    /// The temp file is complete and synced, then the writer dies before the rename.
    BeforeRename,
}

/// A verified consent record, loaded in memory; appends are written through atomically.
pub struct Store {
    path: PathBuf,
    key: Zeroizing<Vec<u8>>,
    entries: Vec<AuditEntry>,
    states: BTreeMap<String, RecordedState>,
    last_hash: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Store").field("path", &self.path).field("entries", &self.entries.len()).finish()
    }
}

/// The bytes of `path` when it holds at most `limit` bytes; `None` when it holds more (found after reading
/// `limit + 1` bytes, not the whole file). Used for the record here, and for other whole-file inputs (keys, models)
/// by the command-line tool.
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

impl Store {
    /// Opens and verifies the record at `path` with the host `key` (at least [`MIN_KEY_LEN`] bytes). A missing
    /// file is an empty record; a damaged, edited, truncated, reordered or foreign-key record, or one larger than
    /// [`MAX_RECORD_BYTES`], is [`ConsentError::Tampered`].
    pub fn open(path: impl AsRef<Path>, key: &[u8]) -> Result<Store, ConsentError> {
        check_key_len(key)?;
        let path = path.as_ref().to_path_buf();
        let key = Zeroizing::new(key.to_vec());
        let bytes = match read_bounded(&path, MAX_RECORD_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(ConsentError::Tampered {
                    reason: format!("the record is larger than {MAX_RECORD_BYTES} bytes, more than any real record"),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Store {
                    path,
                    key,
                    entries: Vec::new(),
                    states: BTreeMap::new(),
                    last_hash: GENESIS_HASH.to_owned(),
                })
            }
            Err(source) => return Err(ConsentError::Io { path, source, withdrawal_purged: None }),
        };
        let (entries, states, last_hash) = verify(&bytes, &key)?;
        Ok(Store { path, key, entries, states, last_hash })
    }

    /// The record's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every audit entry, oldest first.
    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    /// The state of `purpose` derived from the log (`None`: never asked).
    pub fn recorded_state(&self, purpose: &str) -> Option<&RecordedState> {
        self.states.get(purpose)
    }

    /// Every purpose's derived state.
    pub fn recorded_states(&self) -> &BTreeMap<String, RecordedState> {
        &self.states
    }

    /// Length and last hash of the log.
    pub fn head(&self) -> RecordHead {
        RecordHead { count: self.entries.len() as u64, last_hash: self.last_hash.clone() }
    }

    /// True when `key` is the key this store was opened with (constant-time over the digests).
    pub(crate) fn same_key(&self, key: &[u8]) -> bool {
        let a = Sha256::digest(&self.key[..]);
        let b = Sha256::digest(key);
        a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// A stable, non-secret id for a receipt of the entry `seq`: HMAC of the entry's MAC, formatted like a UUID.
    pub(crate) fn receipt_id(&self, entry: &AuditEntry) -> String {
        let mut m = mac_for(&self.key, RECEIPT_DOMAIN);
        m.update(entry.mac.as_bytes());
        let h = hex(&m.finalize().into_bytes());
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    /// Appends `draft` (its `seq`, `prev_hash` and `mac` are filled here), writes the whole record atomically and
    /// only then commits it in memory. On error nothing changed, on disk or in memory.
    pub(crate) fn append(&mut self, draft: AuditEntry) -> Result<AuditEntry, ConsentError> {
        self.append_with_fault(draft, Fault::None)
    }

    pub(crate) fn append_with_fault(&mut self, mut e: AuditEntry, fault: Fault) -> Result<AuditEntry, ConsentError> {
        e.seq = self.entries.len() as u64;
        e.prev_hash = self.last_hash.clone();
        e.mac.clear();
        let mut m = mac_for(&self.key, ENTRY_DOMAIN);
        m.update(&e.canonical_bytes());
        e.mac = hex(&m.finalize().into_bytes());
        let new_hash = e.hash_hex();
        let mut entries = self.entries.clone();
        entries.push(e.clone());
        let states = replay(&entries)?;
        let bytes = encode(&self.key, &entries, &states, &new_hash);
        write_atomic(&self.path, &bytes, fault).map_err(|source| ConsentError::Io {
            path: self.path.clone(),
            source,
            withdrawal_purged: None,
        })?;
        self.entries = entries;
        self.states = states;
        self.last_hash = new_hash;
        Ok(e)
    }

    /// The exact bytes this store would write for its current contents (for tests and `replay` tools).
    pub fn encoded(&self) -> Vec<u8> {
        encode(&self.key, &self.entries, &self.states, &self.last_hash)
    }
}

/// [`ConsentError::InvalidKey`] unless the key is [`MIN_KEY_LEN`] to [`MAX_KEY_LEN`] bytes long.
pub(crate) fn check_key_len(key: &[u8]) -> Result<(), ConsentError> {
    if key.len() < MIN_KEY_LEN || key.len() > MAX_KEY_LEN {
        return Err(ConsentError::InvalidKey);
    }
    Ok(())
}

fn mac_for(key: &[u8], domain: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; the key length is checked in `Store::open`.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => HmacSha256::new(&Default::default()),
    };
    m.update(domain);
    m
}

fn head_mac(key: &[u8], count: u64, last_hash: &str) -> HmacSha256 {
    let mut m = mac_for(key, HEAD_DOMAIN);
    m.update(&count.to_le_bytes());
    m.update(last_hash.as_bytes());
    m
}

fn encode(key: &[u8], entries: &[AuditEntry], states: &BTreeMap<String, RecordedState>, last_hash: &str) -> Vec<u8> {
    let count = entries.len() as u64;
    let head = HeadFile {
        count,
        last_hash: last_hash.to_owned(),
        mac: hex(&head_mac(key, count, last_hash).finalize().into_bytes()),
    };
    let file = RecordFile {
        format: FORMAT_NAME.to_owned(),
        format_version: FORMAT_VERSION,
        states: states.clone(),
        entries: entries.to_vec(),
        head,
    };
    serde_json::to_vec_pretty(&file).unwrap_or_default()
}

fn tampered(reason: impl Into<String>) -> ConsentError {
    ConsentError::Tampered { reason: reason.into() }
}

fn verify_mac(m: HmacSha256, claimed_hex: &str) -> bool {
    match unhex(claimed_hex) {
        Some(bytes) => m.verify_slice(&bytes).is_ok(),
        None => false,
    }
}

type Verified = (Vec<AuditEntry>, BTreeMap<String, RecordedState>, String);

fn verify(bytes: &[u8], key: &[u8]) -> Result<Verified, ConsentError> {
    // The parse error's category and position only: no content of the file goes into the reason.
    let file: RecordFile = serde_json::from_slice(bytes).map_err(|e| {
        tampered(format!("not a valid record ({:?} error at line {}, column {})", e.classify(), e.line(), e.column()))
    })?;
    if file.format != FORMAT_NAME {
        return Err(tampered("not a motiongate consent record"));
    }
    if file.format_version != FORMAT_VERSION {
        return Err(tampered(format!("unsupported format version {}", file.format_version)));
    }
    let mut prev = GENESIS_HASH.to_owned();
    for (i, e) in file.entries.iter().enumerate() {
        if e.seq != i as u64 {
            return Err(tampered(format!("entry {i}: sequence number is {} (reordered, deleted or inserted)", e.seq)));
        }
        if e.prev_hash != prev {
            return Err(tampered(format!("entry {i} (seq {}): previous-hash link is broken", e.seq)));
        }
        let mut m = mac_for(key, ENTRY_DOMAIN);
        m.update(&e.canonical_bytes());
        if !verify_mac(m, &e.mac) {
            return Err(tampered(format!(
                "entry {i} (seq {}): MAC does not verify (edited, or authenticated with a different key)",
                e.seq
            )));
        }
        prev = e.hash_hex();
    }
    let count = file.entries.len() as u64;
    if file.head.count != count {
        return Err(tampered(format!(
            "head says {} entries, the log has {count} (truncated or extended)",
            file.head.count
        )));
    }
    if file.head.last_hash != prev {
        return Err(tampered("head does not commit to the last entry (truncated or extended)"));
    }
    if !verify_mac(head_mac(key, count, &prev), &file.head.mac) {
        return Err(tampered("head MAC does not verify (edited, or authenticated with a different key)"));
    }
    let states = replay(&file.entries)?;
    if states != file.states {
        return Err(tampered("stored states disagree with the audit log"));
    }
    // The MACs authenticate the parsed values; only the canonical spelling of those values is accepted, so that
    // the file itself (what tools and people read) cannot be changed without the key.
    if encode(key, &file.entries, &states, &prev) != bytes {
        return Err(tampered(
            "the record is not in canonical form (whitespace, field order, escapes or duplicate keys changed)",
        ));
    }
    Ok((file.entries, states, prev))
}

/// Derives every purpose's state from the (verified) log.
fn replay(entries: &[AuditEntry]) -> Result<BTreeMap<String, RecordedState>, ConsentError> {
    let mut states = BTreeMap::new();
    for e in entries {
        let next = match e.event {
            AuditEvent::Granted => match (e.sensors, e.method) {
                (Some(sensors), Some(method)) => RecordedState::Granted {
                    policy_version: e.policy_version,
                    sensors,
                    method,
                    at_unix_ms: e.at_unix_ms,
                    seq: e.seq,
                },
                _ => return Err(tampered(format!("entry {}: grant without sensors or method", e.seq))),
            },
            AuditEvent::Denied => RecordedState::Denied { policy_version: e.policy_version, at_unix_ms: e.at_unix_ms },
            AuditEvent::Withdrawn => {
                RecordedState::Withdrawn { policy_version: e.policy_version, at_unix_ms: e.at_unix_ms }
            }
            AuditEvent::PolicyChanged => {
                let granted = match states.get(&e.purpose) {
                    Some(RecordedState::Granted { policy_version, .. }) => *policy_version,
                    Some(RecordedState::ReconsentRequired { granted_policy_version, .. }) => *granted_policy_version,
                    _ => return Err(tampered(format!("entry {}: policy change without a grant", e.seq))),
                };
                RecordedState::ReconsentRequired {
                    granted_policy_version: granted,
                    policy_version: e.policy_version,
                    at_unix_ms: e.at_unix_ms,
                }
            }
            AuditEvent::SessionOpened | AuditEvent::SessionClosed => continue,
        };
        states.insert(e.purpose.clone(), next);
    }
    Ok(states)
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_path(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().map(|s| s.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp.{}.{n}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: unique temp file in the same directory, `sync_all`, rename, then a
/// best-effort `sync_all` of the directory so the rename itself is durable.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], fault: Fault) -> io::Result<()> {
    let tmp = tmp_path(path);
    let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    if let Fault::StopAfter(n) = fault {
        f.write_all(&bytes[..n.min(bytes.len())])?;
        return Err(io::Error::other("simulated crash while writing the temp file"));
    }
    let result = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if fault == Fault::BeforeRename {
        return Err(io::Error::other("simulated crash before the rename"));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path);
    Ok(())
}

fn sync_parent(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Strict lower-case hex decoding (upper case is refused, so the text of a MAC has one spelling).
fn unhex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef-test-key";

    fn sample_store(dir: &Path) -> (PathBuf, Store) {
        let path = dir.join("consent.json");
        let mut s = Store::open(&path, KEY).unwrap();
        let mut g = AuditEntry::draft(1_000, AuditEvent::Granted, "activity", 1);
        g.sensors = Some(Sensors { accelerometer: true, gyroscope: true });
        g.method = Some(CollectionMethod::InAppDialog);
        s.append(g).unwrap();
        s.append(AuditEntry::draft(2_000, AuditEvent::Withdrawn, "activity", 1)).unwrap();
        (path, s)
    }

    #[test]
    fn roundtrip_and_replay() {
        let dir = tempfile::tempdir().unwrap();
        let (path, s) = sample_store(dir.path());
        let r = Store::open(&path, KEY).unwrap();
        assert_eq!(r.entries(), s.entries());
        assert_eq!(r.head(), s.head());
        assert_eq!(
            r.recorded_state("activity"),
            Some(&RecordedState::Withdrawn { policy_version: 1, at_unix_ms: 2_000 })
        );
        assert_eq!(fs::read(&path).unwrap(), r.encoded());
    }

    #[test]
    fn record_over_the_size_limit_is_refused_without_reading_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.json");
        // A sparse file one byte over the limit: refused as tampered (fails closed), not parsed.
        fs::File::create(&path).unwrap().set_len(MAX_RECORD_BYTES + 1).unwrap();
        let err = Store::open(&path, KEY).unwrap_err();
        assert!(matches!(&err, ConsentError::Tampered { reason } if reason.contains("larger than")), "{err:?}");
        // At the limit it is read (and then fails verification as garbage, not as too large).
        fs::File::create(&path).unwrap().set_len(MAX_RECORD_BYTES).unwrap();
        let err = Store::open(&path, KEY).unwrap_err();
        assert!(matches!(&err, ConsentError::Tampered { reason } if !reason.contains("larger than")), "{err:?}");
    }

    #[test]
    fn short_key_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Store::open(dir.path().join("x"), b"short"), Err(ConsentError::InvalidKey)));
    }

    /// Crash safety: the writer dies after every possible number of bytes of the temp file, or before the
    /// rename; the record read back is always the old one, intact, and a later write still works.
    #[test]
    fn interrupted_write_at_every_byte_offset_leaves_old_record() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut s) = sample_store(dir.path());
        let old = fs::read(&path).unwrap();
        let mut g = AuditEntry::draft(3_000, AuditEvent::Granted, "activity", 2);
        g.sensors = Some(Sensors { accelerometer: true, gyroscope: false });
        g.method = Some(CollectionMethod::Cli);
        let mut probe = Store::open(&path, KEY).unwrap();
        probe.path = dir.path().join("probe.json");
        probe.append(g.clone()).unwrap();
        let new_len = fs::read(&probe.path).unwrap().len();
        assert!(new_len > old.len());
        for n in (0..=new_len).map(Fault::StopAfter).chain([Fault::BeforeRename]) {
            let err = s.append_with_fault(g.clone(), n).unwrap_err();
            assert!(matches!(err, ConsentError::Io { .. }));
            assert_eq!(fs::read(&path).unwrap(), old, "{n:?}");
            let r = Store::open(&path, KEY).unwrap();
            assert_eq!(r.entries(), s.entries());
            assert_eq!(r.entries().len(), 2);
        }
        // Leftover temp files do not disturb later writes.
        s.append(g).unwrap();
        assert_eq!(Store::open(&path, KEY).unwrap().entries().len(), 3);
    }

    #[test]
    fn hex_roundtrip_is_strict() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab, 0xff])), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(unhex("AB"), None);
        assert_eq!(unhex("abc"), None);
    }
}
