//! Consent gate: every state, every error, receipts, and tamper detection on a real record.
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};

use motiongate::consent::{
    validate_purpose, AuditEvent, CollectionMethod, ConsentError, ConsentState, Gate, Gated, RecordedState, Sensors,
    StateKind, Store,
};
use motiongate::Sample;

const KEY: &[u8] = b"test-key-0123456789abcdef";
const OTHER_KEY: &[u8] = b"another-key-0123456789abcdef";
const P: &str = "activity";

fn record_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("consent.json")
}

fn s(t: i64) -> Sample {
    Sample::with_gyro(t, [0.1, 0.2, 9.8], [0.01, 0.02, 0.03])
}

fn tampered(r: Result<Gate, ConsentError>) -> String {
    match r {
        Err(ConsentError::Tampered { reason }) => reason,
        Err(e) => panic!("expected Tampered, got {e:?}"),
        Ok(g) => panic!("expected Tampered, gate opened in state {:?}", g.state()),
    }
}

#[test]
fn missing_file_is_not_determined_and_first_write_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    assert_eq!(gate.state(), ConsentState::NotDetermined);
    assert_eq!(gate.state().kind(), StateKind::NotDetermined);
    assert!(!path.exists());
    assert_eq!(gate.open_session().unwrap_err().gated(), Some(Gated::NotDetermined));
    gate.deny(5).unwrap();
    assert!(path.exists());
}

#[test]
fn every_state_and_its_gated_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 1).unwrap();

    gate.deny(1_000).unwrap();
    assert_eq!(gate.state(), ConsentState::Denied { at_unix_ms: 1_000 });
    assert!(matches!(gate.open_session(), Err(ConsentError::Gated(Gated::Denied))));

    gate.grant(2_000, CollectionMethod::InAppDialog, Sensors::ALL).unwrap();
    match gate.state() {
        ConsentState::Granted(g) => {
            assert_eq!(g.purpose, P);
            assert_eq!(g.policy_version, 1);
            assert_eq!(g.sensors, Sensors::ALL);
            assert_eq!(g.at_unix_ms, 2_000);
            assert_eq!(g.method, CollectionMethod::InAppDialog);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(gate.state().gated(), None);
    let session = gate.open_session_at(2_500).unwrap();
    drop(session);

    let report = gate.withdraw(3_000).unwrap();
    assert_eq!(report.sessions_stopped, 0);
    assert_eq!(gate.state(), ConsentState::Withdrawn { at_unix_ms: 3_000 });
    assert!(matches!(gate.open_session(), Err(ConsentError::Gated(Gated::Withdrawn))));

    gate.grant(4_000, CollectionMethod::Cli, Sensors::ACCELEROMETER).unwrap();
    drop(gate);
    let gate2 = Gate::open(&path, KEY, P, 2).unwrap();
    assert_eq!(gate2.state(), ConsentState::ReconsentRequired { granted_policy_version: 1, current_policy_version: 2 });
    assert_eq!(gate2.state().kind(), StateKind::ReconsentRequired);
    assert!(matches!(gate2.open_session(), Err(ConsentError::Gated(Gated::ReconsentRequired))));
    let changes = |g: &Gate| g.log().iter().filter(|e| e.event == AuditEvent::PolicyChanged).count();
    assert_eq!(changes(&gate2), 1);
    drop(gate2);
    // Logged once: reopening at the same version does not log again.
    let gate2 = Gate::open(&path, KEY, P, 2).unwrap();
    assert_eq!(changes(&gate2), 1);
    // A host that asks for an *older* version than the grant does not open either (and logs nothing).
    gate2.grant(5_000, CollectionMethod::Api, Sensors::ALL).unwrap();
    drop(gate2);
    let old = Gate::open(&path, KEY, P, 1).unwrap();
    assert_eq!(old.state(), ConsentState::ReconsentRequired { granted_policy_version: 2, current_policy_version: 1 });
    assert!(matches!(old.open_session(), Err(ConsentError::Gated(Gated::ReconsentRequired))));
    assert_eq!(changes(&old), 1);
    // Withdrawing from ReconsentRequired is logged.
    old.withdraw(6_000).unwrap();
    assert_eq!(old.state().kind(), StateKind::Withdrawn);
}

#[test]
fn consent_is_per_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let a = Gate::open(&path, KEY, "activity", 1).unwrap();
    let b = Gate::open(&path, KEY, "fitness.stats", 1).unwrap();
    a.grant(1, CollectionMethod::InAppDialog, Sensors::ALL).unwrap();
    assert!(a.open_session().is_ok());
    assert_eq!(b.state(), ConsentState::NotDetermined);
    assert!(matches!(b.open_session(), Err(ConsentError::Gated(Gated::NotDetermined))));
    b.deny(2).unwrap();
    assert!(a.open_session().is_ok());
    let store = Store::open(&path, KEY).unwrap();
    assert!(matches!(store.recorded_state("activity"), Some(RecordedState::Granted { .. })));
    assert!(matches!(store.recorded_state("fitness.stats"), Some(RecordedState::Denied { .. })));
}

#[test]
fn invalid_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    assert!(matches!(Gate::open(&path, b"short key", P, 1), Err(ConsentError::InvalidKey)));
    assert!(matches!(Gate::open(&path, b"", P, 1), Err(ConsentError::InvalidKey)));
    for bad in ["", "Activity", "a b", "-x", "x/y", "é", &"a".repeat(65)] {
        assert!(matches!(Gate::open(&path, KEY, bad, 1), Err(ConsentError::InvalidPurpose)), "{bad:?}");
        assert!(validate_purpose(bad).is_err());
    }
    assert!(validate_purpose(&"a".repeat(64)).is_ok());
    assert!(validate_purpose("fitness.v2_x-y").is_ok());

    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    let no_accel = Sensors { accelerometer: false, gyroscope: true };
    assert!(matches!(gate.grant(1, CollectionMethod::Api, no_accel), Err(ConsentError::InvalidSensors)));
    assert!(matches!(gate.receipt(), Err(ConsentError::NoGrant)));
    gate.grant(1, CollectionMethod::Api, Sensors::ALL).unwrap();
    let err = gate.deny(2).unwrap_err();
    assert!(matches!(err, ConsentError::InvalidTransition { from: StateKind::Granted, action: "deny" }));
    assert_eq!(err.exit_code(), 2);
    assert_eq!(ConsentError::Gated(Gated::Denied).exit_code(), 3);
    assert_eq!(ConsentError::Tampered { reason: String::new() }.exit_code(), 4);

    // A directory where the file should be: an I/O error naming the path, never a grant.
    let dir_path = dir.path().join("is_a_dir");
    fs::create_dir(&dir_path).unwrap();
    match Gate::open(&dir_path, KEY, P, 1) {
        Err(e @ ConsentError::Io { .. }) => {
            assert_eq!(e.exit_code(), 4);
            assert!(e.to_string().contains("is_a_dir"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn withdraw_and_deny_from_every_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    // Nothing to withdraw: no log entry, empty report.
    assert_eq!(gate.withdraw(1).unwrap().sessions_stopped, 0);
    assert!(gate.log().is_empty());
    gate.deny(2).unwrap();
    gate.deny(3).unwrap();
    assert_eq!(gate.withdraw(4).unwrap().sessions_stopped, 0);
    assert_eq!(gate.state(), ConsentState::Denied { at_unix_ms: 3 });
    gate.grant(5, CollectionMethod::Settings, Sensors::ALL).unwrap();
    gate.withdraw(6).unwrap();
    gate.withdraw(7).unwrap();
    assert_eq!(gate.state(), ConsentState::Withdrawn { at_unix_ms: 6 });
    gate.deny(8).unwrap();
    assert_eq!(gate.state(), ConsentState::Denied { at_unix_ms: 8 });
    let events: Vec<_> = gate.log().iter().map(|e| e.event).collect();
    use AuditEvent::*;
    assert_eq!(events, vec![Denied, Denied, Granted, Withdrawn, Denied]);
}

#[test]
fn session_lifecycle_is_logged_without_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 3).unwrap();
    gate.grant(10, CollectionMethod::InAppDialog, Sensors::ACCELEROMETER).unwrap();
    let mut a = gate.open_session_at(11).unwrap();
    let b = gate.open_session_at(12).unwrap();
    a.push(&[s(1), s(2), s(3)]).unwrap();
    let summary = a.close(13).unwrap();
    assert_eq!(summary.windows_classified, 0);
    let report = gate.withdraw(14).unwrap();
    assert_eq!(report.sessions_stopped, 1);
    drop(b);
    let log = gate.log();
    let events: Vec<_> = log.iter().map(|e| e.event).collect();
    use AuditEvent::*;
    assert_eq!(events, vec![Granted, SessionOpened, SessionOpened, SessionClosed, Withdrawn, SessionClosed]);
    assert_eq!(log[1].session, Some(1));
    assert_eq!(log[3].session, Some(1));
    assert_eq!(log[4].counts.sessions_stopped, 1);
    assert_eq!(gate.unlogged_session_closes(), 0);
    // The file holds no sample value.
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("9.8") && !text.contains("0.03"));
    // The record reopens to the same log.
    assert_eq!(Store::open(&path, KEY).unwrap().entries(), &log[..]);
}

#[test]
fn receipt_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 7).unwrap();
    gate.grant(1_700_000_000_123, CollectionMethod::InAppDialog, Sensors::ACCELEROMETER).unwrap();
    let mut session = gate.open_session_at(1_700_000_000_200).unwrap();
    session.push(&[s(1), s(2)]).unwrap();
    let r = gate.receipt_with("Example Fitness Ltd", Some("EU")).unwrap();
    assert_eq!(r.purpose, P);
    assert_eq!(r.policy_version, 7);
    assert_eq!(r.consent_timestamp, "2023-11-14T22:13:20.123Z");
    assert_eq!(r.collection_method, "in_app_dialog");
    assert_eq!(r.controller, "Example Fitness Ltd");
    assert_eq!(r.pii_categories, vec!["accelerometer motion samples".to_owned()]);
    assert_eq!(r.status, "active");
    assert_eq!(r.receipt_id.len(), 36);
    // Deterministic: the same grant gives the same id.
    assert_eq!(gate.receipt().unwrap().receipt_id, r.receipt_id);
    assert_eq!(gate.receipt().unwrap().controller, "the host application");
    let json = r.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for field in [
        "version",
        "receipt_id",
        "jurisdiction",
        "consent_timestamp",
        "collection_method",
        "controller",
        "purpose",
        "policy_version",
        "pii_categories",
        "processing",
        "withdrawal",
    ] {
        assert!(v.get(field).is_some(), "{field}");
    }
    assert!(r.processing.contains("on the device only"));
    let text = r.to_text();
    assert!(text.contains("How to withdraw") && text.contains("Policy version: 7"));
    for out in [&json, &text] {
        assert!(!out.contains("9.8") && !out.contains("0.01"), "receipt leaks sensor data");
        assert!(!out.contains("test-key"));
    }
    gate.withdraw(1_700_000_100_000).unwrap();
    assert!(gate.receipt().unwrap().status.starts_with("withdrawn at 2023-11-14T"));
}

/// A gate granted at 1 on a record in its own directory `sub` (so that removing `sub` makes every later write fail,
/// even for root), with a session opened at 2: (directory, record path, gate, session).
fn granted_in_removable_dir(dir: &tempfile::TempDir) -> (PathBuf, PathBuf, Gate, motiongate::Session) {
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let path = sub.join("consent.json");
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    gate.grant(1, CollectionMethod::Api, Sensors::ALL).unwrap();
    let session = gate.open_session_at(2).unwrap();
    (sub, path, gate, session)
}

#[test]
fn withdrawal_that_cannot_be_written_still_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let (sub, path, gate, mut session) = granted_in_removable_dir(&dir);
    session.push(&[s(1)]).unwrap();
    // Remove the directory: the temp file cannot be created any more.
    fs::remove_file(&path).unwrap();
    fs::remove_dir(&sub).unwrap();
    let err = gate.withdraw(3).unwrap_err();
    assert!(matches!(err, ConsentError::Io { .. }), "{err:?}");
    assert_eq!(session.push(&[s(2)]), Err(motiongate::SessionError::Gated(Gated::Withdrawn)));
    assert!(session.raw_buffers_are_zero());
    assert_eq!(gate.state(), ConsentState::Withdrawn { at_unix_ms: 3 });
    assert!(matches!(gate.open_session(), Err(ConsentError::Gated(Gated::Withdrawn))));
    // The failed close is counted, not panicked on.
    drop(session);
    assert_eq!(gate.unlogged_session_closes(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Tamper detection on a real record.

const REAL_ENTRIES: usize = 9;

/// A record made by a real sequence: grant, session with pushes, close, second purpose denied, withdraw with a
/// live session, re-grant, policy change.
fn real_record(path: &Path) -> Vec<u8> {
    {
        let gate = Gate::open(path, KEY, P, 1).unwrap();
        gate.grant(1_000, CollectionMethod::InAppDialog, Sensors::ALL).unwrap();
        let mut session = gate.open_session_at(1_100).unwrap();
        session.push(&(1..50).map(s).collect::<Vec<_>>()).unwrap();
        session.close(1_200).unwrap();
        let other = Gate::open(path, KEY, "fitness", 1).unwrap();
        other.deny(1_300).unwrap();
        let live = gate.open_session_at(1_400).unwrap();
        gate.withdraw(1_500).unwrap();
        live.close(1_550).unwrap();
    }
    {
        let gate = Gate::open(path, KEY, P, 1).unwrap();
        gate.grant(1_600, CollectionMethod::Cli, Sensors::ACCELEROMETER).unwrap();
    }
    drop(Gate::open(path, KEY, P, 2).unwrap());
    fs::read(path).unwrap()
}

fn with_value(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn entries(v: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    v["entries"].as_array_mut().unwrap()
}

#[test]
fn the_real_record_verifies_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    real_record(&path);
    let store = Store::open(&path, KEY).unwrap();
    assert_eq!(store.entries().len(), REAL_ENTRIES);
    assert!(matches!(store.recorded_state(P), Some(RecordedState::ReconsentRequired { .. })));
    assert!(Gate::open(&path, KEY, P, 2).is_ok());
}

#[test]
fn flipping_any_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let good = real_record(&path);
    for i in 0..good.len() {
        for mask in [0x01u8, 0x20] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            fs::write(&path, &bad).unwrap();
            let reason = tampered(Gate::open(&path, KEY, P, 2));
            assert!(!reason.contains("test-key"));
        }
    }
}

#[test]
fn editing_any_field_of_every_entry_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let good = real_record(&path);
    for i in 0..REAL_ENTRIES {
        for field in ["seq", "at_unix_ms", "event", "purpose", "policy_version", "counts", "prev_hash", "mac"] {
            fs::write(&path, &good).unwrap();
            with_value(&path, |v| {
                let e = &mut entries(v)[i];
                e[field] = match field {
                    "event" => serde_json::json!(if e[field] == "denied" { "withdrawn" } else { "denied" }),
                    "purpose" => serde_json::json!(if e[field] == "fitness" { "other" } else { "fitness" }),
                    "counts" => {
                        serde_json::json!({"windows_classified": 99, "sessions_stopped": 0, "bytes_purged": 0})
                    }
                    "prev_hash" | "mac" => serde_json::json!("11".repeat(32)),
                    _ => serde_json::json!(e[field].as_u64().unwrap() + 1),
                };
            });
            let reason = tampered(Gate::open(&path, KEY, P, 2));
            assert!(reason.contains(&format!("entry {i}")) || reason.contains("states"), "{i} {field}: {reason}");
        }
    }
}

#[test]
fn deleting_swapping_and_truncating_entries_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let good = real_record(&path);
    for i in 0..REAL_ENTRIES {
        // Delete entry i.
        fs::write(&path, &good).unwrap();
        with_value(&path, |v| {
            entries(v).remove(i);
        });
        tampered(Gate::open(&path, KEY, P, 2));
        // Keep only the first i entries (truncate the log after entry i-1), with or without fixing the head.
        for fix_head in [false, true] {
            fs::write(&path, &good).unwrap();
            with_value(&path, |v| {
                entries(v).truncate(i);
                if fix_head {
                    let last = v["entries"].as_array().unwrap().last().cloned();
                    v["head"]["count"] = serde_json::json!(i);
                    if let Some(last) = last {
                        // An attacker can recompute the hash (no key needed) but not the head MAC.
                        let entry: motiongate::consent::AuditEntry = serde_json::from_value(last).unwrap();
                        v["head"]["last_hash"] = serde_json::json!(entry.hash_hex());
                    }
                }
            });
            tampered(Gate::open(&path, KEY, P, 2));
        }
        // Swap entries i and i+1.
        if i + 1 < REAL_ENTRIES {
            fs::write(&path, &good).unwrap();
            with_value(&path, |v| entries(v).swap(i, i + 1));
            tampered(Gate::open(&path, KEY, P, 2));
        }
    }
    // The headline attack: drop the withdrawal and everything after it to resurrect the first grant.
    fs::write(&path, &good).unwrap();
    with_value(&path, |v| {
        let es = entries(v);
        let w = es.iter().position(|e| e["event"] == "withdrawn").unwrap();
        es.truncate(w);
        v["states"][P] = serde_json::json!({"state": "granted", "policy_version": 1,
            "sensors": {"accelerometer": true, "gyroscope": true}, "method": "in_app_dialog",
            "at_unix_ms": 1000, "seq": 0});
    });
    tampered(Gate::open(&path, KEY, P, 1));
    // Editing only the stored state does not fake a grant either.
    fs::write(&path, &good).unwrap();
    with_value(&path, |v| {
        v["states"][P] = serde_json::json!({"state": "granted", "policy_version": 2,
            "sensors": {"accelerometer": true, "gyroscope": true}, "method": "api", "at_unix_ms": 1, "seq": 0});
    });
    assert!(tampered(Gate::open(&path, KEY, P, 2)).contains("states"));
}

#[test]
fn truncation_at_every_byte_offset_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let good = real_record(&path);
    for len in 0..good.len() {
        fs::write(&path, &good[..len]).unwrap();
        tampered(Gate::open(&path, KEY, P, 2));
    }
    fs::write(&path, &good).unwrap();
    assert!(Gate::open(&path, KEY, P, 2).is_ok());
}

#[test]
fn foreign_key_garbage_and_wrong_format_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let good = real_record(&path);
    let reason = tampered(Gate::open(&path, OTHER_KEY, P, 2));
    assert!(reason.contains("entry 0") && reason.contains("different key"), "{reason}");
    assert!(!reason.contains("another-key"));
    for garbage in [&b""[..], b"null", b"{}", b"[]", b"\x00\xff\xfe", b"{\"format\":\"x\"}"] {
        fs::write(&path, garbage).unwrap();
        tampered(Gate::open(&path, KEY, P, 2));
    }
    // A record with an unknown extra field, or trailing bytes.
    fs::write(&path, &good).unwrap();
    with_value(&path, |v| v["entries"][0]["note"] = serde_json::json!("x"));
    tampered(Gate::open(&path, KEY, P, 2));
    let mut trailing = good.clone();
    trailing.extend_from_slice(b" {}");
    fs::write(&path, &trailing).unwrap();
    tampered(Gate::open(&path, KEY, P, 2));
}

#[test]
fn a_live_gate_detects_a_file_changed_behind_its_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    gate.grant(1, CollectionMethod::Api, Sensors::ALL).unwrap();
    let before = fs::read(&path).unwrap();
    gate.withdraw(2).unwrap();
    // Roll the file back to the valid, older record (with the grant) while this process holds the newer one.
    fs::write(&path, &before).unwrap();
    assert!(tampered(Gate::open(&path, KEY, P, 1)).contains("differs"));
    // Another key is refused too.
    assert!(Gate::open(&path, OTHER_KEY, P, 1).is_err());
}

#[test]
fn a_withdrawal_that_could_not_be_written_survives_freeing_every_handle() {
    let dir = tempfile::tempdir().unwrap();
    let (sub, path, gate, session) = granted_in_removable_dir(&dir);
    let granted = fs::read(&path).unwrap();
    // The write fails (the directory is gone), as on a full or read-only disk: the old record stays behind.
    fs::remove_file(&path).unwrap();
    fs::remove_dir(&sub).unwrap();
    assert!(matches!(gate.withdraw(3), Err(ConsentError::Io { .. })));
    fs::create_dir(&sub).unwrap();
    fs::write(&path, &granted).unwrap();
    drop(session);
    drop(gate);
    // Every handle is gone and the file on disk still grants: a new gate must not bring the grant back. It
    // retries the write, which now succeeds.
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    assert_eq!(gate.state(), ConsentState::Withdrawn { at_unix_ms: 3 });
    assert!(matches!(gate.open_session(), Err(ConsentError::Gated(Gated::Withdrawn))));
    drop(gate);
    let reread = Gate::open(&path, KEY, P, 1).unwrap();
    assert_eq!(reread.state(), ConsentState::Withdrawn { at_unix_ms: 3 });
    assert!(reread.log().iter().any(|e| e.event == AuditEvent::Withdrawn), "the retried withdrawal is on disk");
    // A new grant is the user's decision and ends the pending withdrawal.
    reread.grant(4, CollectionMethod::Api, Sensors::ALL).unwrap();
    drop(reread);
    assert!(Gate::open(&path, KEY, P, 1).unwrap().open_session().is_ok());
}

#[cfg(unix)]
#[test]
fn a_record_opened_through_a_symbolic_link_shares_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let gate = Gate::open(&path, KEY, P, 1).unwrap();
    gate.grant(1, CollectionMethod::Api, Sensors::ALL).unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let through_link = Gate::open(&link, KEY, P, 1).unwrap();
    let mut session = through_link.open_session_at(2).unwrap();
    session.push(&[s(1)]).unwrap();
    // A withdrawal through the real path stops the session opened through the link, and the link's gate sees it.
    assert_eq!(gate.withdraw(3).unwrap().sessions_stopped, 1);
    assert_eq!(session.push(&[s(2)]), Err(motiongate::SessionError::Gated(Gated::Withdrawn)));
    assert_eq!(through_link.state(), ConsentState::Withdrawn { at_unix_ms: 3 });
    assert!(matches!(through_link.open_session(), Err(ConsentError::Gated(Gated::Withdrawn))));
}

/// Gates opened on a record while another thread of the process writes it (grants, withdrawals, sessions opened
/// and closed by `Drop`) are never refused as tampered: the open reads and compares the file under the lock every
/// writer holds. A genuinely edited record is still refused afterwards.
#[test]
fn opening_gates_while_another_thread_writes_the_record_never_reports_tampered() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    // At least this many opens, going on until the writer has written at least this many entries (each write
    // syncs the file, so it is far slower than an open).
    const MIN_OPENS: u64 = 300;
    const MIN_WRITES: u64 = 100;
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let writer_gate = Gate::open(&path, KEY, P, 1).unwrap();
    let stop = AtomicBool::new(false);
    let writes = AtomicU64::new(0);
    let (opens, failures) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut t = 1;
            while !stop.load(Ordering::Relaxed) {
                writer_gate.grant(t, CollectionMethod::Api, Sensors::ALL).unwrap();
                // Opened and dropped: `session_opened`, then `session_closed` written by `Drop`.
                drop(writer_gate.open_session_at(t + 1).unwrap());
                writes.fetch_add(2, Ordering::Relaxed);
                writer_gate.withdraw(t + 2).unwrap();
                writes.fetch_add(2, Ordering::Relaxed);
                t += 3;
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let (mut opens, mut failures) = (0u64, Vec::new());
        while (opens < MIN_OPENS || writes.load(Ordering::Relaxed) < MIN_WRITES) && std::time::Instant::now() < deadline
        {
            if let Err(e) = Gate::open(&path, KEY, P, 1) {
                failures.push(format!("open {opens}: {e}"));
            }
            opens += 1;
        }
        // Stop the writer before asserting, so a failure cannot leave it running.
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        (opens, failures)
    });
    assert!(writes.load(Ordering::Relaxed) >= MIN_WRITES, "the writer was too slow to test anything");
    assert!(
        failures.is_empty(),
        "{} of {opens} opens failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert_eq!(writer_gate.unlogged_session_closes(), 0);
    // An edit made behind the process's back is still refused.
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    tampered(Gate::open(&path, KEY, P, 1));
}

/// Only the bytes this crate writes verify: the MACs cover the parsed values, so without this a duplicate key, a
/// reordered field, added whitespace or an escaped character would change the file without being noticed (and a
/// tool whose parser keeps the first of two duplicate keys would read a state the log does not hold).
#[test]
fn only_the_canonical_spelling_of_a_record_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let good = real_record(&path);
    let text = String::from_utf8(good.clone()).unwrap();
    let replace_once = |from: &str, to: &str| {
        assert_eq!(text.matches(from).count(), 1, "{from:?}");
        text.replacen(from, to, 1)
    };
    let fake_grant = r#""fitness": {"state": "granted", "policy_version": 1, "sensors": {"accelerometer": true, "gyroscope": true}, "method": "api", "at_unix_ms": 1, "seq": 0},"#;
    let variants = [
        // A fake grant ahead of the real (denied) state of the same purpose: serde keeps the last one.
        ("duplicate states key", replace_once("\"states\": {\n", &format!("\"states\": {{\n    {fake_grant}\n"))),
        (
            "reordered top-level fields",
            replace_once(
                "\"format\": \"motiongate-consent-record\",\n  \"format_version\": 1,",
                "\"format_version\": 1,\n  \"format\": \"motiongate-consent-record\",",
            ),
        ),
        ("whitespace after a colon", replace_once("\"format_version\": 1", "\"format_version\":  1")),
        ("trailing newline", format!("{text}\n")),
        ("leading space", format!(" {text}")),
        (
            "escaped character",
            replace_once(
                "\"format\": \"motiongate-consent-record\"",
                "\"format\": \"motiongate-consent-\\u0072ecord\"",
            ),
        ),
        ("compact instead of pretty", {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            // Compact keeps no indentation; also reorders keys (serde_json's map is sorted).
            serde_json::to_string(&v).unwrap()
        }),
    ];
    for (what, bytes) in &variants {
        assert_ne!(bytes.as_bytes(), &good[..], "{what}");
        fs::write(&path, bytes).unwrap();
        let err = Store::open(&path, KEY).unwrap_err();
        assert!(matches!(&err, ConsentError::Tampered { reason } if reason.contains("canonical")), "{what}: {err:?}");
        assert!(tampered(Gate::open(&path, KEY, P, 2)).contains("canonical"), "{what}");
    }
    // Re-serialising the parsed JSON (same values, keys sorted by serde_json's map) reorders the entries' fields.
    fs::write(&path, &good).unwrap();
    with_value(&path, |_| {});
    assert!(tampered(Gate::open(&path, KEY, P, 2)).contains("canonical"));
    // The record as written still verifies.
    fs::write(&path, &good).unwrap();
    assert!(Gate::open(&path, KEY, P, 2).is_ok());
}

/// A withdrawal whose write fails still wiped the sessions: the error says what it stopped and wiped, and the
/// entry that finally lands (on the host's retry, or when a gate is opened again) counts it, not 0.
#[test]
fn a_withdrawal_that_could_not_be_written_keeps_its_purge_report() {
    for retry_by_reopening in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (sub, path, gate, mut session) = granted_in_removable_dir(&dir);
        session.push(&[s(1), s(2)]).unwrap();
        let granted = fs::read(&path).unwrap();
        fs::remove_file(&path).unwrap();
        fs::remove_dir(&sub).unwrap();
        let err = gate.withdraw(3).unwrap_err();
        assert!(matches!(err, ConsentError::Io { .. }), "{err:?}");
        let report = err.purge_report().expect("a failed withdrawal reports what it wiped");
        assert_eq!(report.sessions_stopped, 1);
        assert!(report.bytes_wiped > 0);
        assert!(err.to_string().contains("took effect"), "{err}");
        assert!(session.raw_buffers_are_zero());
        // A second failed attempt stops nothing more.
        let again = gate.withdraw(4).unwrap_err();
        assert_eq!(again.purge_report().map(|r| r.sessions_stopped), Some(0));
        // The disk comes back (with the old record, as after a full disk was cleared).
        fs::create_dir(&sub).unwrap();
        fs::write(&path, &granted).unwrap();
        let log = if retry_by_reopening {
            drop(session);
            drop(gate);
            Gate::open(&path, KEY, P, 1).unwrap().log()
        } else {
            let retried = gate.withdraw(5).unwrap();
            assert_eq!(retried.sessions_stopped, 0, "this call stopped nothing");
            drop(session);
            gate.log()
        };
        let w = log.iter().find(|e| e.event == AuditEvent::Withdrawn).expect("the withdrawal is on disk");
        assert_eq!(w.counts.sessions_stopped, report.sessions_stopped, "reopen: {retry_by_reopening}");
        assert_eq!(w.counts.bytes_purged, report.bytes_wiped, "reopen: {retry_by_reopening}");
    }
}

/// A grant or deny after a withdrawal that could not be written writes the withdrawal first: the log goes grant,
/// withdrawal, decision, never from the old grant straight to the new decision.
#[test]
fn a_decision_after_an_unwritten_withdrawal_logs_the_withdrawal_first() {
    for deny in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (sub, path, gate, mut session) = granted_in_removable_dir(&dir);
        session.push(&[s(1), s(2)]).unwrap();
        let granted = fs::read(&path).unwrap();
        fs::remove_file(&path).unwrap();
        fs::remove_dir(&sub).unwrap();
        let report = gate.withdraw(3).unwrap_err().purge_report().unwrap();
        // While the disk is gone the decision cannot be logged either, and the withdrawal stays in effect.
        let failed = if deny { gate.deny(4) } else { gate.grant(4, CollectionMethod::Api, Sensors::ALL) };
        assert!(matches!(failed, Err(ConsentError::Io { .. })), "{failed:?}");
        assert_eq!(gate.state().kind(), StateKind::Withdrawn);
        fs::create_dir(&sub).unwrap();
        fs::write(&path, &granted).unwrap();
        if deny {
            gate.deny(5).unwrap();
        } else {
            gate.grant(5, CollectionMethod::Api, Sensors::ALL).unwrap();
        }
        let events: Vec<AuditEvent> = gate.log().iter().map(|e| e.event).collect();
        let decision = if deny { AuditEvent::Denied } else { AuditEvent::Granted };
        assert_eq!(events[events.len() - 2..], [AuditEvent::Withdrawn, decision], "{events:?}");
        let w = &gate.log()[events.len() - 2];
        assert_eq!((w.at_unix_ms, w.counts.sessions_stopped), (3, report.sessions_stopped));
        assert_eq!(w.counts.bytes_purged, report.bytes_wiped);
        // The record replays to the decision, and nothing is pending any more.
        drop(session);
        drop(gate);
        let reopened = Gate::open(&path, KEY, P, 1).unwrap();
        let expected = if deny { StateKind::Denied } else { StateKind::Granted };
        assert_eq!(reopened.state().kind(), expected);
        assert_eq!(reopened.log().iter().filter(|e| e.event == AuditEvent::Withdrawn).count(), 1);
    }
}

/// A host that keeps the record's head elsewhere detects a rolled-back or deleted record at open, before the
/// gate writes anything (a plain open at a newer policy version would log `policy_changed` on the old copy).
#[test]
fn opening_with_an_expected_head_refuses_another_record_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_path(&dir);
    let (granted, latest) = {
        let gate = Gate::open_expecting(&path, KEY, P, 1, &Store::open(&path, KEY).unwrap().head()).unwrap();
        gate.grant(1, CollectionMethod::Api, Sensors::ALL).unwrap();
        let granted = fs::read(&path).unwrap();
        gate.withdraw(2).unwrap();
        (granted, gate.head())
    };
    // Rolled back to the older copy that grants (it verifies: same key). Refused, and nothing is written.
    fs::write(&path, &granted).unwrap();
    let reason = tampered(Gate::open_expecting(&path, KEY, P, 2, &latest));
    assert!(reason.contains("expected"), "{reason}");
    assert_eq!(fs::read(&path).unwrap(), granted, "nothing written before the check");
    // A deleted record is refused too, and not created.
    fs::remove_file(&path).unwrap();
    tampered(Gate::open_expecting(&path, KEY, P, 2, &latest));
    assert!(!path.exists());
    // With the head it has, the same record opens, and only then is the policy change logged.
    fs::write(&path, &granted).unwrap();
    let head = Store::open(&path, KEY).unwrap().head();
    let gate = Gate::open_expecting(&path, KEY, P, 2, &head).unwrap();
    assert_eq!(gate.log().last().map(|e| e.event), Some(AuditEvent::PolicyChanged));
    // While the record is open in this process, the head in memory is compared (it moved with the change).
    tampered(Gate::open_expecting(&path, KEY, P, 2, &head));
    assert!(Gate::open_expecting(&path, KEY, P, 2, &gate.head()).is_ok());
}
