//! C ABI of motiongate: opaque handles, status codes, no raw-data getters, `catch_unwind` at every entry.
//!
//! This is the only place in the project with `unsafe` code. The header `include/motiongate.h` is generated from
//! this file by cbindgen (see `build.rs`); the doc comments below are copied into it.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use motiongate::consent::store::{RecordHead, MAX_KEY_LEN};
use motiongate::consent::StateKind;
use motiongate::{
    Activity, ActivityEvent, CollectionMethod, ConsentError, EventKind, Gate, Gated, Sample, Sensors, Session,
    SessionError, SessionStatus,
};

/// cbindgen:ignore
#[cfg(feature = "jni")]
mod jni;

/// Status returned by every function of this API (except the string getters and the `*_free` functions).
///
/// `MG_GATED_*` mean "no consent for live data"; the reason tells the app what to show. The numbers are stable.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum mg_status {
    /// Success.
    MG_OK = 0,
    /// `mg_session_next_event`: no event is pending (not an error).
    MG_NO_EVENT = 1,
    /// Consent has not been asked for this purpose yet: ask the user, then `mg_gate_grant` or `mg_gate_deny`.
    MG_GATED_NOT_DETERMINED = 10,
    /// The user denied consent.
    MG_GATED_DENIED = 11,
    /// The user withdrew consent (the session's buffers are already wiped). Also returned by a session whose grant
    /// was replaced by a newer grant: if `mg_gate_state` says `MG_CONSENT_GRANTED`, free it and open a new session.
    MG_GATED_WITHDRAWN = 12,
    /// The privacy policy version changed since consent was given: ask again.
    MG_GATED_RECONSENT_REQUIRED = 13,
    /// A NULL pointer, a bad length, a non-UTF-8 string, an invalid key (16 to 1024 bytes) or purpose name
    /// (1 to 64 characters from `a-z 0-9 . _ -`), or a negative time.
    MG_ERR_INVALID_ARGUMENT = 20,
    /// A sample was refused (NaN or infinite value, beyond 16 g or 40 rad/s, time not increasing, `has_gyro` not
    /// 0 or 1). The samples before it were accepted; the rest of the call was not looked at.
    MG_ERR_INVALID_SAMPLE = 21,
    /// The consent transition is not allowed in the current state (`mg_gate_deny` while consent is granted: use
    /// `mg_gate_withdraw`).
    MG_ERR_INVALID_TRANSITION = 22,
    /// The consent record could not be read or written (the withdrawal still took effect in memory: retry).
    MG_ERR_STORE_IO = 30,
    /// The consent record is damaged, edited, or was written with another key: the gate fails closed.
    MG_ERR_STORE_TAMPERED = 31,
    /// A bug (caught panic) or a broken build (embedded model unavailable). A session whose push or event call
    /// panicked has had its buffers wiped and returns this from every later push, event and status call: free it
    /// and open a new one.
    MG_ERR_INTERNAL = 99,
}

/// Consent state of a gate's purpose at the gate's policy version.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum mg_consent_state {
    /// Never asked for this purpose (also: no record file yet).
    MG_CONSENT_NOT_DETERMINED = 0,
    /// Granted for this purpose and this policy version: `mg_session_open` succeeds.
    MG_CONSENT_GRANTED = 1,
    /// The user said no.
    MG_CONSENT_DENIED = 2,
    /// Granted earlier, then withdrawn.
    MG_CONSENT_WITHDRAWN = 3,
    /// The grant on record is for another privacy policy version: ask again.
    MG_CONSENT_RECONSENT_REQUIRED = 4,
}

/// What the classifier reports.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum mg_activity {
    /// Not moving (sitting, standing, lying, phone on a table).
    MG_STILL = 0,
    /// Walking, including stairs.
    MG_WALKING = 1,
    /// Running or jogging.
    MG_RUNNING = 2,
    /// In a vehicle: car, bus, train, metro.
    MG_TRANSIT = 3,
    /// No confident decision.
    #[default]
    MG_UNKNOWN = 4,
}

/// Kind of an `mg_event`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum mg_event_kind {
    /// The decision for one window hop (emitted every hop).
    #[default]
    MG_UPDATE = 0,
    /// A new activity has lasted the dwell time and is now current.
    MG_ENTER = 1,
    /// The current activity ended (followed by an `MG_ENTER` of the next one).
    MG_EXIT = 2,
}

/// One motion sample. Acceleration in m/s^2 *including* gravity (Android `TYPE_ACCELEROMETER`; iOS
/// `CMAccelerometerData` times -9.81), angular rate in rad/s, device axes; `t_ns` monotonic nanoseconds
/// (any epoch, strictly increasing). `has_gyro` must be 0 (gx, gy, gz ignored) or 1. `mg_session_windows` counts the
/// windows whose input held no gravity, `mg_session_windows_refused` those refused as acceleration in g,
/// `mg_session_gyroscope` those whose gyroscope contradicted the accelerometer (as rates in deg/s do).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct mg_sample {
    /// Monotonic time, ns.
    pub t_ns: i64,
    /// Acceleration x, m/s^2 with gravity.
    pub ax: f32,
    /// Acceleration y, m/s^2 with gravity.
    pub ay: f32,
    /// Acceleration z, m/s^2 with gravity.
    pub az: f32,
    /// Angular rate x, rad/s.
    pub gx: f32,
    /// Angular rate y, rad/s.
    pub gy: f32,
    /// Angular rate z, rad/s.
    pub gz: f32,
    /// 1 when gx, gy, gz hold a gyroscope reading, 0 when not.
    pub has_gyro: u8,
}

/// One decision or transition. Never carries a sample or a feature.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct mg_event {
    /// Start of the span (input clock, ns): window start for `MG_UPDATE`, estimated activity start otherwise.
    pub start_ns: i64,
    /// End of the span: window end for `MG_UPDATE`, decision time for `MG_ENTER` / `MG_EXIT`.
    pub end_ns: i64,
    /// The activity (for `MG_EXIT`, the one that ended).
    pub activity: mg_activity,
    /// Probability of `activity` after smoothing, 0..1.
    pub confidence: f32,
    /// Update, enter or exit.
    pub kind: mg_event_kind,
}

/// Bit of `mg_gate_grant_sensors`: the accelerometer (required).
pub const MG_SENSOR_ACCELEROMETER: u32 = 1;
/// Bit of `mg_gate_grant_sensors`: the gyroscope.
pub const MG_SENSOR_GYROSCOPE: u32 = 2;
/// Largest `n` accepted by `mg_session_push` in one call (push longer recordings in chunks).
pub const MG_MAX_PUSH: usize = 1 << 24;

/// The consent gate of one purpose (opaque). Wraps `motiongate::Gate`.
pub struct mg_gate {
    gate: Gate,
}

/// A live classification session (opaque). Wraps `motiongate::Session`.
pub struct mg_session {
    session: Session,
    /// Read by `mg_session_status`, possibly on another thread while `session` is borrowed mutably by a push:
    /// the two are separate fields and each function borrows only its own (see `session_mut`).
    status: SessionStatus,
}

// The threading rules in the header rely on these.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<Gate>();
    send::<Session>();
    send_sync::<SessionStatus>();
};

/// The C-side spelling of a status passed *into* `mg_status_str`: the header shows it as `mg_status`
/// (cbindgen renames it), but Rust receives a plain `int` so an out-of-range value is not undefined behaviour.
pub type mg_status_in = i32;

// ---------------------------------------------------------------------------------------------------------------
// Errors and the last-error message.

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    // `try_with`: during thread teardown the slot may be gone, and `with` would panic outside any `catch_unwind`.
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = c;
        }
    });
}

/// Records `msg` as the last error and returns `status`.
fn fail(status: mg_status, msg: &str) -> mg_status {
    set_last_error(msg);
    status
}

fn gated_status(g: Gated) -> mg_status {
    match g {
        Gated::NotDetermined => mg_status::MG_GATED_NOT_DETERMINED,
        Gated::Denied => mg_status::MG_GATED_DENIED,
        Gated::Withdrawn | Gated::Superseded => mg_status::MG_GATED_WITHDRAWN,
        Gated::ReconsentRequired => mg_status::MG_GATED_RECONSENT_REQUIRED,
    }
}

fn consent_error(e: &ConsentError) -> mg_status {
    let status = match e {
        ConsentError::Io { .. } => mg_status::MG_ERR_STORE_IO,
        ConsentError::Tampered { .. } => mg_status::MG_ERR_STORE_TAMPERED,
        ConsentError::InvalidKey | ConsentError::InvalidPurpose | ConsentError::InvalidSensors => {
            mg_status::MG_ERR_INVALID_ARGUMENT
        }
        ConsentError::InvalidTransition { .. } => mg_status::MG_ERR_INVALID_TRANSITION,
        ConsentError::Gated(g) => gated_status(*g),
        ConsentError::NoGrant => mg_status::MG_GATED_NOT_DETERMINED,
        // A broken build; and future variants: never pretend success.
        _ => mg_status::MG_ERR_INTERNAL,
    };
    // Consent errors never carry key bytes or sensor data (see `ConsentError`).
    fail(status, &e.to_string())
}

/// Runs `f`, turning a panic into `MG_ERR_INTERNAL` (a panic must never unwind into C).
fn guard(f: impl FnOnce() -> mg_status) -> mg_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(s) => s,
        Err(_) => fail(mg_status::MG_ERR_INTERNAL, "internal error (caught panic)"),
    }
}

fn null_arg(name: &str) -> mg_status {
    fail(mg_status::MG_ERR_INVALID_ARGUMENT, &format!("{name} is NULL"))
}

/// Bytes `mg_gate_head` writes to `out_hash`: 64 lowercase hex digits and a NUL.
pub const MG_HEAD_HASH_SIZE: usize = 65;

/// Longest string argument accepted, in bytes without the NUL (paths included): the scan for the NUL stops here.
pub const MG_MAX_STRING: usize = 4096;

/// Reads a NUL-terminated UTF-8 string argument of at most `MG_MAX_STRING` bytes.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for reads.
unsafe fn c_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, mg_status> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    let mut len = 0;
    loop {
        // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string: every byte up to and including the
        // NUL is readable, and the loop stops at the NUL (or earlier, at the limit).
        if unsafe { p.add(len).read() } == 0 {
            break;
        }
        len += 1;
        if len > MG_MAX_STRING {
            return Err(fail(
                mg_status::MG_ERR_INVALID_ARGUMENT,
                &format!("{name} is longer than MG_MAX_STRING ({MG_MAX_STRING} bytes)"),
            ));
        }
    }
    // SAFETY: the `len` bytes before the NUL were just read through the same pointer; the caller keeps them alive
    // for the call.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    std::str::from_utf8(bytes)
        .map_err(|_| fail(mg_status::MG_ERR_INVALID_ARGUMENT, &format!("{name} is not valid UTF-8")))
}

/// `MG_ERR_INVALID_ARGUMENT` (naming `name`) when a non-NULL pointer is not aligned for `T`: reading or writing
/// through it would be undefined behaviour.
fn misaligned<T>(p: *const T, name: &str) -> Option<mg_status> {
    (!p.is_null() && !p.is_aligned()).then(|| {
        fail(
            mg_status::MG_ERR_INVALID_ARGUMENT,
            &format!("{name} is not aligned to {} bytes", std::mem::align_of::<T>()),
        )
    })
}

/// `MG_ERR_INVALID_ARGUMENT` (naming `name`) when a required pointer is NULL or not aligned for `T`.
fn unusable<T>(p: *const T, name: &str) -> Option<mg_status> {
    if p.is_null() {
        Some(null_arg(name))
    } else {
        misaligned(p, name)
    }
}

/// A stack buffer of raw motion that is zeroed (with volatile writes, which the compiler may not drop) when it
/// goes out of scope, on every path: returns, `?` and unwinding panics alike. Only the prefix ever handed out for
/// writing is wiped, so a push of a few samples does not pay for wiping the whole buffer.
struct WipedBuf<T: Copy, const N: usize> {
    buf: [T; N],
    zero: T,
    /// Length of the longest prefix handed out by `prefix_mut` (every slot that may hold data).
    dirty: usize,
}

impl<T: Copy, const N: usize> WipedBuf<T, N> {
    fn new(zero: T) -> Self {
        WipedBuf { buf: [zero; N], zero, dirty: 0 }
    }

    /// The first `n` slots (at most `N`), for writing.
    fn prefix_mut(&mut self, n: usize) -> &mut [T] {
        let n = n.min(N);
        self.dirty = self.dirty.max(n);
        &mut self.buf[..n]
    }

    /// Zeroes every slot that may hold data.
    fn wipe(&mut self) {
        wipe_slice(&mut self.buf[..self.dirty], self.zero);
        self.dirty = 0;
    }
}

impl<T: Copy, const N: usize> Drop for WipedBuf<T, N> {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Overwrites every element of `s` with `zero` through volatile writes (which the compiler may not remove as dead
/// stores), for copies of raw motion or key bytes.
fn wipe_slice<T: Copy>(s: &mut [T], zero: T) {
    for slot in s.iter_mut() {
        // SAFETY: `slot` comes from a `&mut T` into the slice: valid, aligned and exclusively borrowed.
        unsafe { std::ptr::write_volatile(slot, zero) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

fn time_arg(unix_ms: i64) -> Result<u64, mg_status> {
    u64::try_from(unix_ms).map_err(|_| fail(mg_status::MG_ERR_INVALID_ARGUMENT, "unix_ms is negative"))
}

// ---------------------------------------------------------------------------------------------------------------
// Strings.

/// A static, human-readable description of `status` (English, never NULL; "unknown status" for other values).
#[no_mangle]
pub extern "C" fn mg_status_str(status: mg_status_in) -> *const c_char {
    let s: &'static CStr = match status {
        0 => c"ok",
        1 => c"no event pending",
        10 => c"consent has not been asked for this purpose yet",
        11 => c"consent for this purpose was denied",
        12 => c"consent for this purpose was withdrawn",
        13 => c"the privacy policy changed since consent was given; consent must be asked again",
        20 => c"invalid argument",
        21 => c"invalid sample",
        22 => c"consent transition not allowed in the current state",
        30 => c"the consent record cannot be read or written",
        31 => c"the consent record cannot be trusted (damaged or another key)",
        99 => c"internal error",
        _ => c"unknown status",
    };
    s.as_ptr()
}

/// The library version ("major.minor.patch"), static, never NULL.
#[no_mangle]
pub extern "C" fn mg_version() -> *const c_char {
    const V: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    V.as_ptr()
}

/// The message of the last call *on this thread* that failed (returned neither `MG_OK` nor `MG_NO_EVENT`), or ""
/// when none has. Never NULL; never contains a sensor value or key byte. Valid until the next failing call on this
/// thread: copy it if you keep it.
#[no_mangle]
pub extern "C" fn mg_last_error() -> *const c_char {
    catch_unwind(|| LAST_ERROR.try_with(|e| e.try_borrow().map(|m| m.as_ptr()).ok()).ok().flatten())
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

// ---------------------------------------------------------------------------------------------------------------
// Gate.

/// Opens (and verifies) the consent record at `store_path` with the host `key` (16 to 1024 bytes; on phones keep it
/// in Keychain / Keystore) for `purpose` at `policy_version` (the privacy policy version the app shows). A missing
/// file is `MG_CONSENT_NOT_DETERMINED`; the file is created on the first grant or deny. On success `*out` is a new
/// gate to free with `mg_gate_free`; on failure `*out` is set to NULL (when `out` is not NULL).
///
/// Returns `MG_ERR_STORE_TAMPERED` when the record is damaged, edited, or was written with another key (also when
/// the same record is already open in this process with another key), `MG_ERR_STORE_IO` when it cannot be read,
/// `MG_ERR_INVALID_ARGUMENT` for NULL pointers, non-UTF-8 strings, a bad key length or purpose name. If the record
/// holds a grant for an older policy version, open sessions of that purpose are stopped and the state becomes
/// `MG_CONSENT_RECONSENT_REQUIRED`.
///
/// # Safety
/// `store_path` and `purpose` are NULL or NUL-terminated strings; `key` is NULL or points to `key_len` readable
/// bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_open(
    store_path: *const c_char,
    key: *const u8,
    key_len: usize,
    purpose: *const c_char,
    policy_version: u32,
    out: *mut *mut mg_gate,
) -> mg_status {
    // SAFETY: the caller's contract is this function's.
    guard(|| unsafe { open_gate(store_path, key, key_len, purpose, policy_version, None, out) })
}

/// `mg_gate_open` for a host that keeps the record's head (`mg_gate_head`) somewhere the record is not (for example
/// in Keystore-encrypted preferences excluded from backup): fails closed with `MG_ERR_STORE_TAMPERED`, writing
/// nothing to the record, unless its head is `expected_count` entries ending in `expected_hash` (64 lower-case hex
/// digits and a NUL, as `mg_gate_head` writes them; a missing record has 0 entries and 64 zeros). This detects what
/// the record's MACs cannot: a record rolled back to an older copy, replaced by a copy made elsewhere with the same
/// key, or deleted. Opening may itself move the head (a `policy_changed` entry, a retried withdrawal): read
/// `mg_gate_head` again after it returns, and after every grant, deny, withdraw and session.
///
/// # Safety
/// As `mg_gate_open`; `expected_hash` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_open_checked(
    store_path: *const c_char,
    key: *const u8,
    key_len: usize,
    purpose: *const c_char,
    policy_version: u32,
    expected_count: u64,
    expected_hash: *const c_char,
    out: *mut *mut mg_gate,
) -> mg_status {
    // SAFETY: the caller's contract is this function's.
    guard(|| unsafe {
        open_gate(store_path, key, key_len, purpose, policy_version, Some((expected_count, expected_hash)), out)
    })
}

/// The body of `mg_gate_open` and, with the expected head's count and hash, `mg_gate_open_checked`.
///
/// # Safety
/// As `mg_gate_open_checked` (the hash pointer, when given, is NULL or a NUL-terminated string).
unsafe fn open_gate(
    store_path: *const c_char,
    key: *const u8,
    key_len: usize,
    purpose: *const c_char,
    policy_version: u32,
    expected: Option<(u64, *const c_char)>,
    out: *mut *mut mg_gate,
) -> mg_status {
    if let Some(s) = unusable(out, "out") {
        return s;
    }
    // SAFETY: `out` is non-NULL, aligned and writable (caller contract).
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: caller contract: NULL or NUL-terminated.
    let path = match unsafe { c_str(store_path, "store_path") } {
        Ok(p) => p,
        Err(s) => return s,
    };
    // SAFETY: caller contract: NULL or NUL-terminated.
    let purpose = match unsafe { c_str(purpose, "purpose") } {
        Ok(p) => p,
        Err(s) => return s,
    };
    if key.is_null() {
        return null_arg("key");
    }
    if key_len > MAX_KEY_LEN {
        return fail(mg_status::MG_ERR_INVALID_ARGUMENT, "the record key must be 16 to 1024 bytes");
    }
    // SAFETY: `key` is non-NULL and the caller guarantees `key_len` (<= 1024) readable bytes.
    let key = unsafe { std::slice::from_raw_parts(key, key_len) };
    let opened = match expected {
        None => Gate::open(path, key, purpose, policy_version),
        Some((count, hash)) => {
            // SAFETY: caller contract: NULL or NUL-terminated.
            let hash = match unsafe { c_str(hash, "expected_hash") } {
                Ok(h) => h,
                Err(s) => return s,
            };
            if hash.len() + 1 != MG_HEAD_HASH_SIZE || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return fail(mg_status::MG_ERR_INVALID_ARGUMENT, "expected_hash must be 64 lower-case hex digits");
            }
            let head = RecordHead { count, last_hash: hash.to_string() };
            Gate::open_expecting(path, key, purpose, policy_version, &head)
        }
    };
    match opened {
        Ok(gate) => {
            let h = Box::into_raw(Box::new(mg_gate { gate }));
            // SAFETY: `out` is non-NULL and writable (checked above).
            unsafe { out.write(h) };
            mg_status::MG_OK
        }
        Err(e) => consent_error(&e),
    }
}

/// Borrows the gate behind a handle.
///
/// # Safety
/// `gate` is NULL or a live handle from `mg_gate_open`.
unsafe fn gate_ref<'a>(gate: *const mg_gate) -> Result<&'a Gate, mg_status> {
    if let Some(s) = misaligned(gate, "gate") {
        return Err(s);
    }
    // SAFETY: caller contract: NULL or a live handle (Box::into_raw); only shared access is taken, and `Gate` is
    // `Sync`.
    match unsafe { gate.as_ref() } {
        Some(g) => Ok(&g.gate),
        None => Err(null_arg("gate")),
    }
}

/// Writes the consent state of the gate's purpose at its policy version to `*out`.
///
/// # Safety
/// `gate` is NULL or a live gate; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_state(gate: *const mg_gate, out: *mut mg_consent_state) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let gate = match unsafe { gate_ref(gate) } {
            Ok(g) => g,
            Err(s) => return s,
        };
        if let Some(s) = unusable(out, "out") {
            return s;
        }
        let state = match gate.state().kind() {
            StateKind::NotDetermined => mg_consent_state::MG_CONSENT_NOT_DETERMINED,
            StateKind::Granted => mg_consent_state::MG_CONSENT_GRANTED,
            StateKind::Denied => mg_consent_state::MG_CONSENT_DENIED,
            StateKind::Withdrawn => mg_consent_state::MG_CONSENT_WITHDRAWN,
            StateKind::ReconsentRequired => mg_consent_state::MG_CONSENT_RECONSENT_REQUIRED,
        };
        // SAFETY: `out` is non-NULL and writable (caller contract).
        unsafe { out.write(state) };
        mg_status::MG_OK
    })
}

/// Records that the user granted consent (accelerometer and gyroscope) at `unix_ms` (wall clock, ms since
/// 1970, >= 0), collected through the app. Accepted in every state; sessions opened under an earlier grant are
/// stopped (their calls return `MG_GATED_WITHDRAWN`: open new ones).
///
/// # Safety
/// `gate` is NULL or a live gate.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_grant(gate: *mut mg_gate, unix_ms: i64) -> mg_status {
    // SAFETY: same contract.
    unsafe { mg_gate_grant_sensors(gate, unix_ms, MG_SENSOR_ACCELEROMETER | MG_SENSOR_GYROSCOPE) }
}

/// `mg_gate_grant` for a subset of sensors: `sensors` is `MG_SENSOR_ACCELEROMETER`, optionally or-ed with
/// `MG_SENSOR_GYROSCOPE`. Without the gyroscope bit, sessions drop gyroscope readings before any buffer.
/// Other bits, or no accelerometer bit: `MG_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `gate` is NULL or a live gate.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_grant_sensors(gate: *mut mg_gate, unix_ms: i64, sensors: u32) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let gate = match unsafe { gate_ref(gate) } {
            Ok(g) => g,
            Err(s) => return s,
        };
        let at = match time_arg(unix_ms) {
            Ok(t) => t,
            Err(s) => return s,
        };
        if sensors & !(MG_SENSOR_ACCELEROMETER | MG_SENSOR_GYROSCOPE) != 0 || sensors & MG_SENSOR_ACCELEROMETER == 0 {
            return fail(mg_status::MG_ERR_INVALID_ARGUMENT, "sensors must include MG_SENSOR_ACCELEROMETER only");
        }
        let sensors = Sensors { accelerometer: true, gyroscope: sensors & MG_SENSOR_GYROSCOPE != 0 };
        match gate.grant(at, CollectionMethod::InAppDialog, sensors) {
            Ok(()) => mg_status::MG_OK,
            Err(e) => consent_error(&e),
        }
    })
}

/// Records that the user refused consent at `unix_ms`. Refused with `MG_ERR_INVALID_TRANSITION` while consent is
/// granted (use `mg_gate_withdraw`, which purges).
///
/// # Safety
/// `gate` is NULL or a live gate.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_deny(gate: *mut mg_gate, unix_ms: i64) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let gate = match unsafe { gate_ref(gate) } {
            Ok(g) => g,
            Err(s) => return s,
        };
        let at = match time_arg(unix_ms) {
            Ok(t) => t,
            Err(s) => return s,
        };
        match gate.deny(at) {
            Ok(()) => mg_status::MG_OK,
            Err(e) => consent_error(&e),
        }
    })
}

/// Withdraws consent at `unix_ms`. Before this returns, every open session of this purpose (on any thread, opened
/// through any gate on the same record) is stopped and its buffers are zeroized; on `MG_OK` and on
/// `MG_ERR_STORE_IO`, `*out_bytes_wiped` (if not NULL) receives how many bytes this call wiped. It is not written
/// when another error is returned. Call it when the user revokes consent in the app *and* when the OS sensor
/// permission is revoked. `MG_ERR_STORE_IO` means the withdrawal took effect in memory (sessions stopped and wiped)
/// but is not yet persisted: call again. A retry that succeeds reports 0 bytes (the sessions were wiped already);
/// the entry it writes counts those of every call.
///
/// # Safety
/// `gate` is NULL or a live gate; `out_bytes_wiped` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_withdraw(gate: *mut mg_gate, unix_ms: i64, out_bytes_wiped: *mut u64) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let gate = match unsafe { gate_ref(gate) } {
            Ok(g) => g,
            Err(s) => return s,
        };
        let at = match time_arg(unix_ms) {
            Ok(t) => t,
            Err(s) => return s,
        };
        if let Some(s) = misaligned(out_bytes_wiped, "out_bytes_wiped") {
            return s;
        }
        match gate.withdraw(at) {
            Ok(report) => {
                if !out_bytes_wiped.is_null() {
                    // SAFETY: non-NULL and writable (caller contract).
                    unsafe { out_bytes_wiped.write(report.bytes_wiped) };
                }
                mg_status::MG_OK
            }
            Err(e) => {
                // A withdrawal whose record write failed still stopped and wiped the sessions: say how much.
                if let (Some(report), false) = (e.purge_report(), out_bytes_wiped.is_null()) {
                    // SAFETY: non-NULL, alignment checked above, and writable (caller contract).
                    unsafe { out_bytes_wiped.write(report.bytes_wiped) };
                }
                consent_error(&e)
            }
        }
    })
}

/// The head of the consent record: `*out_count` entries, the last one's SHA-256 as 64 hex digits and a NUL in
/// `out_hash` (`hash_cap` >= `MG_HEAD_HASH_SIZE`; 64 zeros for an empty record).
///
/// The record is authenticated with the host key, so an older copy of the same file (a backup restored, a file
/// copied back) still verifies. To detect that rollback, keep the head somewhere the record is not (for example in
/// Keystore-encrypted preferences excluded from backup), update it after every grant, deny, withdraw and session,
/// and open with `mg_gate_open_checked`, which refuses a record with another head before writing anything to it
/// (comparing after `mg_gate_open` compares a record the open may already have changed).
///
/// # Safety
/// `gate` is NULL or a live gate; `out_count` is NULL or writable; `out_hash` is NULL or points to `hash_cap`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_head(
    gate: *const mg_gate,
    out_count: *mut u64,
    out_hash: *mut c_char,
    hash_cap: usize,
) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let gate = match unsafe { gate_ref(gate) } {
            Ok(g) => g,
            Err(s) => return s,
        };
        if out_count.is_null() {
            return null_arg("out_count");
        }
        if out_hash.is_null() {
            return null_arg("out_hash");
        }
        if let Some(s) = misaligned(out_count, "out_count") {
            return s;
        }
        if hash_cap < MG_HEAD_HASH_SIZE {
            return fail(mg_status::MG_ERR_INVALID_ARGUMENT, "hash_cap is smaller than MG_HEAD_HASH_SIZE (65)");
        }
        let head = gate.head();
        let hash = head.last_hash.as_bytes();
        if hash.len() + 1 != MG_HEAD_HASH_SIZE {
            return fail(mg_status::MG_ERR_INTERNAL, "the record's hash is not 64 hex digits");
        }
        // SAFETY: `out_hash` is non-NULL and the caller guarantees `hash_cap` (>= 65, checked) writable bytes; the
        // source is our own 64-byte string, which cannot overlap the caller's buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(hash.as_ptr(), out_hash.cast::<u8>(), hash.len());
            out_hash.add(hash.len()).write(0);
        }
        // SAFETY: `out_count` is non-NULL, aligned (checked) and writable (caller contract).
        unsafe { out_count.write(head.count) };
        mg_status::MG_OK
    })
}

/// Frees a gate. NULL is a no-op. Sessions opened from it stay valid (and stay stoppable: a gate re-opened on the
/// same record reaches them). The handle must not be in use on another thread.
///
/// # Safety
/// `gate` is NULL or a live gate, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn mg_gate_free(gate: *mut mg_gate) {
    if gate.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a live handle made by Box::into_raw in mg_gate_open, freed once (caller contract).
        drop(unsafe { Box::from_raw(gate) });
    }));
}

// ---------------------------------------------------------------------------------------------------------------
// Session.

/// Opens a live session with the embedded default model. Without a grant for the gate's purpose and policy
/// version, returns the gated status (`MG_GATED_*`) and sets `*out` to NULL. On success `*out` is a new session to
/// free with `mg_session_free` (which logs `session_closed` and wipes its buffers).
///
/// # Safety
/// `gate` is NULL or a live gate; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mg_session_open(gate: *mut mg_gate, out: *mut *mut mg_session) -> mg_status {
    guard(|| {
        if let Some(s) = unusable(out, "out") {
            return s;
        }
        // SAFETY: `out` is non-NULL, aligned and writable (caller contract).
        unsafe { out.write(std::ptr::null_mut()) };
        // SAFETY: caller contract.
        let gate = match unsafe { gate_ref(gate) } {
            Ok(g) => g,
            Err(s) => return s,
        };
        match gate.open_session() {
            Ok(session) => {
                let status = session.status_probe();
                let h = Box::into_raw(Box::new(mg_session { session, status }));
                // SAFETY: `out` is non-NULL and writable (checked above).
                unsafe { out.write(h) };
                mg_status::MG_OK
            }
            Err(e) => consent_error(&e),
        }
    })
}

/// Borrows the session behind a handle, exclusively: only its `session` field, so that `mg_session_status` may
/// read the `status` field on another thread meanwhile (no reference to the whole handle is ever made).
///
/// # Safety
/// `session` is NULL or a live handle from `mg_session_open`, not used concurrently on another thread except by
/// `mg_session_status`.
unsafe fn session_mut<'a>(session: *mut mg_session) -> Result<&'a mut Session, mg_status> {
    if let Some(s) = unusable(session, "session") {
        return Err(s);
    }
    // SAFETY: caller contract: a live Box::into_raw handle (non-NULL and aligned, checked above). `addr_of_mut!`
    // projects to the field without creating a reference to the whole struct, and no other thread uses this field.
    Ok(unsafe { &mut *std::ptr::addr_of_mut!((*session).session) })
}

/// The body of the session's count getters (`mg_session_windows`, `mg_session_windows_refused`,
/// `mg_session_gyroscope`): checks the handle and both out pointers (a NULL or misaligned one:
/// `MG_ERR_INVALID_ARGUMENT` naming it, nothing written), then writes the two counts `counts` reads. Counts are readable in every consent state, so the gate is not consulted.
///
/// # Safety
/// `session` is NULL or a live session not used concurrently; each out pointer is NULL or writable.
unsafe fn write_count_pair(
    session: *mut mg_session,
    outs: [(*mut u64, &str); 2],
    counts: impl FnOnce(&Session) -> [u64; 2],
) -> mg_status {
    // SAFETY: caller contract.
    let session = match unsafe { session_mut(session) } {
        Ok(s) => s,
        Err(s) => return s,
    };
    if let Some(s) = outs.iter().find_map(|&(p, name)| unusable(p, name)) {
        return s;
    }
    for ((p, _), value) in outs.into_iter().zip(counts(session)) {
        // SAFETY: non-NULL, aligned (checked above) and writable (caller contract).
        unsafe { p.write(value) };
    }
    mg_status::MG_OK
}

const CHUNK: usize = 64;

/// Converts one C sample; the gyroscope reading is not even copied when the grant does not cover it.
fn to_sample(s: &mg_sample, gyroscope_allowed: bool) -> Result<Sample, ()> {
    let accel = [s.ax, s.ay, s.az];
    match (s.has_gyro, gyroscope_allowed) {
        (0, _) | (1, false) => Ok(Sample { t_ns: s.t_ns, accel: accel.into(), gyro: None }),
        (1, true) => Ok(Sample::with_gyro(s.t_ns, accel, [s.gx, s.gy, s.gz])),
        _ => Err(()),
    }
}

/// Why a push on `session` must not look at its input (the status is also the last error): the gated status once
/// consent has ended, `MG_ERR_INTERNAL` once a panic faulted it, else `None`. Both pushes, `mg_session_push` and the
/// JNI one, ask this before they read or copy a sample, so a push of no samples reports a stopped session too.
fn push_refused(session: &Session) -> Option<mg_status> {
    if let Some(g) = session.gated() {
        return Some(fail(gated_status(g), &g.to_string()));
    }
    session.faulted().then(|| fail(mg_status::MG_ERR_INTERNAL, &SessionError::Faulted.to_string()))
}

/// Pushes `input` in chunks through a stack buffer that is zeroed on every exit. `offset` is the index of
/// `input[0]` in the caller's array, for error messages.
fn push_samples(session: &mut Session, input: &[mg_sample], offset: usize) -> mg_status {
    let gyroscope_allowed = session.gyroscope_allowed();
    let mut buf: WipedBuf<Sample, CHUNK> = WipedBuf::new(Sample::accel(0, 0.0, 0.0, 0.0));
    for (c, chunk) in input.chunks(CHUNK).enumerate() {
        let base = offset + c * CHUNK;
        let slots = buf.prefix_mut(chunk.len());
        for (i, s) in chunk.iter().enumerate() {
            match to_sample(s, gyroscope_allowed) {
                Ok(x) => slots[i] = x,
                Err(()) => {
                    // Push the valid prefix first so "the samples before it were accepted" holds.
                    if let Err(e) = session.push(&slots[..i]) {
                        return session_error(e, base);
                    }
                    return fail(
                        mg_status::MG_ERR_INVALID_SAMPLE,
                        &format!("sample {} refused: has_gyro must be 0 or 1", base + i),
                    );
                }
            }
        }
        if let Err(e) = session.push(slots) {
            return session_error(e, base);
        }
    }
    mg_status::MG_OK
}

/// Feeds `n` samples (in time order) to the session. Events produced are taken with `mg_session_next_event`.
/// While consent holds, `n == 0` is `MG_OK` whatever `samples` is; `n > 0` with `samples == NULL`, or
/// `n > MG_MAX_PUSH`: `MG_ERR_INVALID_ARGUMENT`. A refused sample gives `MG_ERR_INVALID_SAMPLE` (`mg_last_error`
/// names its index and field, never its value); the samples before it were accepted. Once consent has ended,
/// returns the gated status and touches nothing (whatever `samples` and `n` are). If consent ends during the call (a
/// withdrawal on another thread), the push stops at its next sample and returns the reason's status, or `MG_OK` if
/// it had already passed its last sample's check (its events are wiped all the same). `samples` must be aligned for
/// `mg_sample` (8 bytes; else `MG_ERR_INVALID_ARGUMENT`). Without a gyroscope grant, gyroscope readings are not even
/// copied. Samples pass through a 64-sample stack buffer that is zeroed before the call returns. Does not allocate
/// when it succeeds (an error's message does). If the push panics (a bug), the session's buffers are wiped and it is
/// stopped for good: `MG_ERR_INTERNAL` now and on every later call (a push of `n == 0` included).
///
/// # Safety
/// `session` is NULL or a live session not used concurrently; `samples` is NULL or points to `n` readable
/// `mg_sample`s.
#[no_mangle]
pub unsafe extern "C" fn mg_session_push(session: *mut mg_session, samples: *const mg_sample, n: usize) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let session = match unsafe { session_mut(session) } {
            Ok(s) => s,
            Err(s) => return s,
        };
        if let Some(s) = push_refused(session) {
            return s;
        }
        if n == 0 {
            return mg_status::MG_OK;
        }
        if samples.is_null() {
            return null_arg("samples");
        }
        if n > MG_MAX_PUSH {
            return fail(mg_status::MG_ERR_INVALID_ARGUMENT, "n is larger than MG_MAX_PUSH; push in chunks");
        }
        if let Some(s) = misaligned(samples, "samples") {
            return s;
        }
        // SAFETY: non-NULL, aligned (checked above), `n` <= MG_MAX_PUSH (so the byte size fits isize), and the
        // caller guarantees `n` readable, initialized `mg_sample`s (plain old data: every bit pattern is valid, and
        // `has_gyro` is a u8, not a bool).
        let input = unsafe { std::slice::from_raw_parts(samples, n) };
        push_samples(session, input, 0)
    })
}

fn session_error(e: SessionError, offset: usize) -> mg_status {
    match e {
        SessionError::Gated(g) => fail(gated_status(g), &g.to_string()),
        // `SampleError` messages name the field and the problem, never a value.
        SessionError::InvalidSample { index, error } => {
            fail(mg_status::MG_ERR_INVALID_SAMPLE, &format!("sample {} refused: {error}", offset + index))
        }
        SessionError::Faulted => fail(mg_status::MG_ERR_INTERNAL, &SessionError::Faulted.to_string()),
    }
}

fn to_event(e: &ActivityEvent) -> mg_event {
    mg_event {
        start_ns: e.start_ns,
        end_ns: e.end_ns,
        activity: match e.activity {
            Activity::Still => mg_activity::MG_STILL,
            Activity::Walking => mg_activity::MG_WALKING,
            Activity::Running => mg_activity::MG_RUNNING,
            Activity::Transit => mg_activity::MG_TRANSIT,
            Activity::Unknown => mg_activity::MG_UNKNOWN,
        },
        confidence: e.confidence,
        kind: match e.kind {
            EventKind::Update => mg_event_kind::MG_UPDATE,
            EventKind::Enter => mg_event_kind::MG_ENTER,
            EventKind::Exit => mg_event_kind::MG_EXIT,
        },
    }
}

/// Takes the oldest pending event into `*out`: `MG_OK`, or `MG_NO_EVENT` when none is pending. Once consent has
/// ended, returns the gated status (pending events were wiped with the buffers) and leaves `*out` untouched.
///
/// # Safety
/// `session` is NULL or a live session not used concurrently; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mg_session_next_event(session: *mut mg_session, out: *mut mg_event) -> mg_status {
    guard(|| {
        // SAFETY: caller contract.
        let session = match unsafe { session_mut(session) } {
            Ok(s) => s,
            Err(s) => return s,
        };
        if let Some(s) = unusable(out, "out") {
            return s;
        }
        match session.next_event() {
            Some(ev) => {
                // SAFETY: non-NULL and writable (caller contract).
                unsafe { out.write(to_event(&ev)) };
                mg_status::MG_OK
            }
            None => match session.gated() {
                Some(g) => fail(gated_status(g), &g.to_string()),
                None if session.faulted() => fail(mg_status::MG_ERR_INTERNAL, &SessionError::Faulted.to_string()),
                None => mg_status::MG_NO_EVENT,
            },
        }
    })
}

/// `MG_OK` while the session may classify, else the gated status (why it was stopped; also the last error), or
/// `MG_ERR_INTERNAL` once an internal error stopped it (see `MG_ERR_INTERNAL`).
/// Cheap (one atomic load while consent holds). May be called on any thread, also while another thread is inside
/// `mg_session_push` or `mg_session_next_event` on the same session, but never concurrently with (or after)
/// `mg_session_free`.
///
/// # Safety
/// `session` is NULL or a live session that no other thread is freeing.
#[no_mangle]
pub unsafe extern "C" fn mg_session_status(session: *const mg_session) -> mg_status {
    guard(|| {
        if let Some(s) = unusable(session, "session") {
            return s;
        }
        // SAFETY: a live handle (caller contract), non-NULL and aligned (checked above). Only the `status` field is
        // borrowed, shared, through `addr_of!`: a push on another thread borrows only the `session` field
        // (`session_mut`), so the two borrows never overlap. `SessionStatus` is `Sync`.
        let status = unsafe { &*std::ptr::addr_of!((*session).status) };
        match status.gated() {
            Some(g) => fail(gated_status(g), &g.to_string()),
            None if status.faulted() => fail(mg_status::MG_ERR_INTERNAL, &SessionError::Faulted.to_string()),
            None => mg_status::MG_OK,
        }
    })
}

/// Writes the number of windows this session has classified so far to `*out_classified`, and how many of them held
/// no gravity to `*out_without_gravity`. Input without gravity means the app feeds linear acceleration (Android
/// `TYPE_LINEAR_ACCELERATION`, iOS `userAcceleration`) instead of the raw accelerometer `mg_sample` expects: its
/// decisions are less reliable (the model then has no vertical axis), so a `*out_without_gravity` that grows
/// with `*out_classified` means the app reads the wrong sensor. Windows refused unjudged (a dead sensor,
/// acceleration in g) are not counted. Both out pointers are required (NULL or misaligned:
/// `MG_ERR_INVALID_ARGUMENT`, nothing written).
///
/// The counts are not activities or signal data: the wipe at a withdrawal does not reset them, and this returns
/// `MG_OK` with both counts also once consent has ended (or an internal error stopped the session). Same threading
/// as `mg_session_next_event`: one thread at a time on this session, never concurrently with `mg_session_push`,
/// `mg_session_next_event` or `mg_session_free` on it.
///
/// # Safety
/// `session` is NULL or a live session not used concurrently; `out_classified` and `out_without_gravity` are NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn mg_session_windows(
    session: *mut mg_session,
    out_classified: *mut u64,
    out_without_gravity: *mut u64,
) -> mg_status {
    let outs = [(out_classified, "out_classified"), (out_without_gravity, "out_without_gravity")];
    // SAFETY: this function's contract is `write_count_pair`'s.
    guard(|| unsafe { write_count_pair(session, outs, |s| [s.windows_classified(), s.windows_without_gravity()]) })
}

/// Writes how many of this session's windows were refused unjudged (reported `MG_UNKNOWN`), by reason: as a dead
/// sensor (no variation at all: all-zero or frozen values) to `*out_dead_sensor`, as acceleration in g where m/s^2
/// are expected to `*out_in_g`. iOS's CoreMotion reports g: pass `-9.80665` times its values (see `mg_sample`); a
/// `*out_in_g` that grows with the windows classified (`mg_session_windows`) means the app forgot. A window without
/// gravity whose slow component is about 1 m/s^2 is taken for gravity in g only when the stream has not come near
/// 0 m/s^2 (as linear acceleration does between a vehicle's manoeuvres) in the last 30 s. Both out pointers are
/// required (NULL or misaligned: `MG_ERR_INVALID_ARGUMENT`, nothing written).
///
/// Counts, not signal data: as for `mg_session_windows`, readable in every consent state and not reset by a wipe.
/// Same threading as `mg_session_next_event`.
///
/// # Safety
/// `session` is NULL or a live session not used concurrently; `out_dead_sensor` and `out_in_g` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mg_session_windows_refused(
    session: *mut mg_session,
    out_dead_sensor: *mut u64,
    out_in_g: *mut u64,
) -> mg_status {
    let outs = [(out_dead_sensor, "out_dead_sensor"), (out_in_g, "out_in_g")];
    // SAFETY: this function's contract is `write_count_pair`'s.
    guard(|| unsafe {
        write_count_pair(session, outs, |s| {
            let refused = s.windows_refused();
            [refused.dead_sensor, refused.acceleration_in_g]
        })
    })
}

/// What the session found about its gyroscope: `*out_contradicting` windows whose gravity estimate the gyroscope
/// turned away from the gravity the accelerometer shows, and `*out_ignored` 1 once the gyroscope is ignored (after
/// 10 s of such windows in a row; gravity then comes from the accelerometer alone, as for a phone without one), else
/// 0. Rates in deg/s where rad/s are expected do this: Android's `TYPE_GYROSCOPE` and iOS's `rotationRate` are rad/s,
/// Expo's `DeviceMotion.rotationRate` is deg/s (multiply by 0.0174533). Rates over 40 are refused sample by sample
/// (`MG_ERR_INVALID_SAMPLE`) whatever this says. Both out pointers are required (NULL or misaligned:
/// `MG_ERR_INVALID_ARGUMENT`, nothing written).
///
/// Counts, not signal data: as for `mg_session_windows`, readable in every consent state and not reset by a wipe.
/// Same threading as `mg_session_next_event`.
///
/// # Safety
/// `session` is NULL or a live session not used concurrently; `out_contradicting` and `out_ignored` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mg_session_gyroscope(
    session: *mut mg_session,
    out_contradicting: *mut u64,
    out_ignored: *mut u64,
) -> mg_status {
    let outs = [(out_contradicting, "out_contradicting"), (out_ignored, "out_ignored")];
    // SAFETY: this function's contract is `write_count_pair`'s.
    guard(|| unsafe {
        write_count_pair(session, outs, |s| {
            let check = s.gyroscope_check();
            [check.contradicting_windows, u64::from(check.ignored)]
        })
    })
}

/// Frees a session: wipes its buffers and logs `session_closed`. NULL is a no-op. Valid after the gate was freed.
///
/// # Safety
/// `session` is NULL or a live session, not in use on another thread, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn mg_session_free(session: *mut mg_session) {
    if session.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a live handle made by Box::into_raw in mg_session_open, freed once (caller contract).
        drop(unsafe { Box::from_raw(session) });
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wiped_buffer_zeroes_every_slot_it_handed_out() {
        let mut b: WipedBuf<f32, 8> = WipedBuf::new(0.0);
        b.prefix_mut(3).copy_from_slice(&[1.0, 2.0, 3.0]);
        b.prefix_mut(2).copy_from_slice(&[4.0, 5.0]);
        assert_eq!(b.dirty, 3, "the longest prefix handed out");
        b.wipe();
        assert_eq!(b.buf, [0.0; 8]);
        assert_eq!(b.dirty, 0);
        // A request beyond the buffer is clamped, never out of bounds.
        assert_eq!(b.prefix_mut(100).len(), 8);
        assert_eq!(b.dirty, 8);
        b.buf.fill(7.0);
        b.wipe();
        assert_eq!(b.buf, [0.0; 8]);
    }
}
