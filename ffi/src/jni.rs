//! JNI shim for Android (feature `jni`): the native methods of `org.motiongate.Native`, each a thin call of the C
//! ABI function of the same name. Handles travel as Java `long`s; every method returns the `mg_status` as an `int`
//! and the Java classes (`Gate`, `Session`) turn non-OK statuses into `MotiongateException`s.
//!
//! Panics: library code runs under the C ABI's `guard` everywhere, so a panic in it gives status 99
//! (`MG_ERR_INTERNAL`, a `MotiongateException` in Java) as it does in C. Most methods get that from the C function
//! they call; `sessionPush` calls the C ABI's internal chunked push directly (to copy the Java arrays a chunk at a
//! time) and wraps its library calls in `guard` itself. `EnvUnowned::with_env` (jni 0.22) also runs its closure
//! under `catch_unwind`, so a panic in the JNI plumbing around them does not unwind into the JVM either; it becomes
//! a `RuntimeException` (and the method returns 0), not a status.

use std::ffi::{c_char, CStr, CString};

use ::jni::errors::{Error, ThrowRuntimeExAndDefault};
use ::jni::objects::{JByteArray, JClass, JFloatArray, JIntArray, JLongArray, JString};
use ::jni::refs::Reference;
use ::jni::sys::{jint, jlong};
use ::jni::{Env, EnvUnowned};

use crate::*;

type JResult<T> = Result<T, Error>;

fn status(s: mg_status) -> jint {
    s as jint
}

fn invalid(msg: &str) -> jint {
    status(fail(mg_status::MG_ERR_INVALID_ARGUMENT, msg))
}

/// Reads a Java string into a C string (`None` for null or an embedded NUL).
fn c_string(env: &Env<'_>, s: &JString<'_>) -> JResult<Option<CString>> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(CString::new(s.try_to_string(env)?).ok())
}

fn handle<T>(h: jlong) -> *mut T {
    h as usize as *mut T
}

/// The body of the session's count getters: checks that `out` is a `long[2]`, calls `get` with two locals and, when
/// it succeeds, copies them into `out`.
fn count_pair(
    env: &mut Env<'_>,
    out: &JLongArray<'_>,
    get: impl FnOnce(&mut u64, &mut u64) -> mg_status,
) -> JResult<jint> {
    if out.is_null() || out.len(env)? < 2 {
        return Ok(invalid("out must be a long[2]"));
    }
    let (mut first, mut second) = (0u64, 0u64);
    let s = get(&mut first, &mut second);
    if s == mg_status::MG_OK {
        out.set_region(env, 0, &[first as jlong, second as jlong])?;
    }
    Ok(status(s))
}

fn static_str<'l>(env: &mut Env<'l>, p: *const c_char) -> JResult<JString<'l>> {
    // SAFETY: `p` comes from mg_status_str / mg_version / mg_last_error: never NULL, NUL-terminated, valid at least
    // until the next failing call on this thread (we copy it right away).
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy();
    JString::from_str(env, s)
}

/// `static native int gateOpen(String path, byte[] key, String purpose, int policyVersion, long[] outHandle)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateOpen<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    path: JString<'l>,
    key: JByteArray<'l>,
    purpose: JString<'l>,
    policy_version: jint,
    out: JLongArray<'l>,
) -> jint {
    env.with_env(|env| open_gate(env, &path, &key, &purpose, policy_version, None, &out))
        .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int gateOpenChecked(String path, byte[] key, String purpose, int policyVersion, long expectedCount,
/// String expectedHash, long[] outHandle)`: `mg_gate_open_checked`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // the Java signature's, plus the JNI environment and class
pub extern "system" fn Java_org_motiongate_Native_gateOpenChecked<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    path: JString<'l>,
    key: JByteArray<'l>,
    purpose: JString<'l>,
    policy_version: jint,
    expected_count: jlong,
    expected_hash: JString<'l>,
    out: JLongArray<'l>,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        let Some(hash) = c_string(env, &expected_hash)? else {
            return Ok(invalid("expectedHash is null or contains NUL"));
        };
        let Ok(count) = u64::try_from(expected_count) else {
            return Ok(invalid("expectedCount is negative"));
        };
        open_gate(env, &path, &key, &purpose, policy_version, Some((count, &hash)), &out)
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// The body of `gateOpen` and `gateOpenChecked`: the C ABI's, with the head `expected` for `gateOpenChecked`.
fn open_gate(
    env: &mut Env<'_>,
    path: &JString<'_>,
    key: &JByteArray<'_>,
    purpose: &JString<'_>,
    policy_version: jint,
    expected: Option<(u64, &CString)>,
    out: &JLongArray<'_>,
) -> JResult<jint> {
    if out.is_null() || out.len(env)? < 1 {
        return Ok(invalid("out must be a long[1]"));
    }
    let (Some(path), Some(purpose)) = (c_string(env, path)?, c_string(env, purpose)?) else {
        return Ok(invalid("path or purpose is null or contains NUL"));
    };
    if key.is_null() {
        return Ok(invalid("key is null"));
    }
    if key.len(env)? > MAX_KEY_LEN {
        return Ok(invalid("the record key must be 16 to 1024 bytes"));
    }
    let Ok(policy_version) = u32::try_from(policy_version) else {
        return Ok(invalid("policyVersion is negative"));
    };
    let mut key = env.convert_byte_array(key)?;
    let mut gate: *mut mg_gate = std::ptr::null_mut();
    let expected = expected.map(|(count, hash)| (count, hash.as_ptr()));
    // SAFETY: valid NUL-terminated strings (the hash too), a live key buffer of `key.len()` bytes, a writable out
    // pointer. Under `guard`, as the C functions run it.
    let s = guard(|| unsafe {
        crate::open_gate(path.as_ptr(), key.as_ptr(), key.len(), purpose.as_ptr(), policy_version, expected, &mut gate)
    });
    // The core keeps its own (zeroizing) copy of the key; this one is wiped before it is freed.
    wipe_slice(&mut key, 0);
    out.set_region(env, 0, &[gate as usize as jlong])?;
    Ok(status(s))
}

/// `static native int gateHead(long gate, long[] outCount, byte[] outHash)`: `outHash` receives the 64 ASCII hex
/// digits (no NUL).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateHead<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    gate: jlong,
    out_count: JLongArray<'l>,
    out_hash: JByteArray<'l>,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        if out_count.is_null() || out_count.len(env)? < 1 {
            return Ok(invalid("outCount must be a long[1]"));
        }
        if out_hash.is_null() || out_hash.len(env)? < MG_HEAD_HASH_SIZE - 1 {
            return Ok(invalid("outHash must be a byte[64]"));
        }
        let mut count = 0u64;
        // Bytes, not `c_char`: that is `i8` on x86_64 but `u8` on aarch64 Android.
        let mut hash = [0u8; MG_HEAD_HASH_SIZE];
        // SAFETY: `gate` is 0 or a live handle owned by a Java `Gate`; both outputs are local and large enough.
        let s = unsafe { mg_gate_head(handle(gate), &mut count, hash.as_mut_ptr().cast::<c_char>(), hash.len()) };
        if s == mg_status::MG_OK {
            // ASCII hex digits: the same value as a Java byte.
            let digits: [i8; MG_HEAD_HASH_SIZE - 1] = std::array::from_fn(|i| hash[i] as i8);
            out_hash.set_region(env, 0, &digits)?;
            out_count.set_region(env, 0, &[count as jlong])?;
        }
        Ok(status(s))
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int gateState(long gate, int[] outState)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateState<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    gate: jlong,
    out: JIntArray<'l>,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        if out.is_null() || out.len(env)? < 1 {
            return Ok(invalid("out must be an int[1]"));
        }
        let mut st = mg_consent_state::MG_CONSENT_NOT_DETERMINED;
        // SAFETY: `gate` is 0 or a live handle owned by a Java `Gate` (which serializes free against use).
        let s = unsafe { mg_gate_state(handle(gate), &mut st) };
        out.set_region(env, 0, &[st as jint])?;
        Ok(status(s))
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int gateGrant(long gate, long unixMs)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateGrant<'l>(
    _env: EnvUnowned<'l>,
    _class: JClass<'l>,
    gate: jlong,
    unix_ms: jlong,
) -> jint {
    // SAFETY: `gate` is 0 or a live handle owned by a Java `Gate`.
    status(unsafe { mg_gate_grant(handle(gate), unix_ms) })
}

/// `static native int gateDeny(long gate, long unixMs)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateDeny<'l>(
    _env: EnvUnowned<'l>,
    _class: JClass<'l>,
    gate: jlong,
    unix_ms: jlong,
) -> jint {
    // SAFETY: `gate` is 0 or a live handle owned by a Java `Gate`.
    status(unsafe { mg_gate_deny(handle(gate), unix_ms) })
}

/// `static native int gateWithdraw(long gate, long unixMs, long[] outBytesWiped)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateWithdraw<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    gate: jlong,
    unix_ms: jlong,
    out: JLongArray<'l>,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        if out.is_null() || out.len(env)? < 1 {
            return Ok(invalid("out must be a long[1]"));
        }
        let mut wiped = 0u64;
        // SAFETY: `gate` is 0 or a live handle owned by a Java `Gate`; `wiped` is writable.
        let s = unsafe { mg_gate_withdraw(handle(gate), unix_ms, &mut wiped) };
        out.set_region(env, 0, &[wiped as jlong])?;
        Ok(status(s))
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native void gateFree(long gate)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_gateFree<'l>(_env: EnvUnowned<'l>, _class: JClass<'l>, gate: jlong) {
    // SAFETY: `gate` is 0 or a live handle; the Java `NativeHandle` zeroes its value under its lock before it calls
    // this, once (from `Gate.close()` or the cleaner, which runs only once the `Gate` is unreachable: its methods
    // keep it reachable through their native calls), so it is freed once and never while in use.
    unsafe { mg_gate_free(handle(gate)) }
}

/// `static native int sessionOpen(long gate, long[] outHandle)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionOpen<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    gate: jlong,
    out: JLongArray<'l>,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        if out.is_null() || out.len(env)? < 1 {
            return Ok(invalid("out must be a long[1]"));
        }
        let mut session: *mut mg_session = std::ptr::null_mut();
        // SAFETY: `gate` is 0 or a live handle owned by a Java `Gate`; `session` is writable.
        let s = unsafe { mg_session_open(handle(gate), &mut session) };
        out.set_region(env, 0, &[session as usize as jlong])?;
        Ok(status(s))
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int sessionPush(long session, long[] tNs, float[] accel, float[] gyro, int n)`: `accel` holds
/// `3n` values (x, y, z per sample), `gyro` is null or holds `3n` values.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionPush<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
    t_ns: JLongArray<'l>,
    accel: JFloatArray<'l>,
    gyro: JFloatArray<'l>,
    n: jint,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        let Ok(n) = usize::try_from(n) else { return Ok(invalid("n is negative")) };
        // SAFETY: `session` is 0 or a live handle used by one thread at a time (the Java `Session` contract).
        let session = match unsafe { session_mut(handle(session)) } {
            Ok(s) => s,
            Err(s) => return Ok(status(s)),
        };
        // As in `mg_session_push`: consent is checked before the arrays are looked at, so a stopped session never
        // has a sample copied into native memory. Library code runs under `guard`, as in the C functions.
        let refused = guard(|| push_refused(session).unwrap_or(mg_status::MG_OK));
        if refused != mg_status::MG_OK {
            return Ok(status(refused));
        }
        if n == 0 {
            return Ok(status(mg_status::MG_OK));
        }
        if n > MG_MAX_PUSH {
            return Ok(invalid("n is larger than MG_MAX_PUSH; push in chunks"));
        }
        if t_ns.is_null() || accel.is_null() || t_ns.len(env)? < n || accel.len(env)? < 3 * n {
            return Ok(invalid("tNs must hold n values and accel 3n"));
        }
        if !gyro.is_null() && gyro.len(env)? < 3 * n {
            return Ok(invalid("gyro must be null or hold 3n values"));
        }
        // Without a gyroscope grant the gyroscope array is not even copied (the C push drops such readings in
        // `to_sample` before any buffer): its samples go on with `has_gyro` 0.
        let copy_gyro = !gyro.is_null() && session.gyroscope_allowed();
        // The Java arrays are copied a chunk at a time into stack buffers that are zeroed on every exit (they hold
        // raw motion): memory stays bounded whatever `n` is, and nothing raw is left behind on the heap.
        let mut t: WipedBuf<i64, CHUNK> = WipedBuf::new(0);
        let mut a: WipedBuf<f32, { 3 * CHUNK }> = WipedBuf::new(0.0);
        let mut g: WipedBuf<f32, { 3 * CHUNK }> = WipedBuf::new(0.0);
        let mut samples: WipedBuf<mg_sample, CHUNK> = WipedBuf::new(mg_sample::default());
        let mut start = 0;
        while start < n {
            // Again before every chunk is copied: a withdrawal on another thread during this call stops the copying
            // too, not only the classifying (one atomic load per 64 samples).
            let refused = guard(|| push_refused(session).unwrap_or(mg_status::MG_OK));
            if refused != mg_status::MG_OK {
                return Ok(status(refused));
            }
            let m = CHUNK.min(n - start);
            // `start` and `m` are at most MG_MAX_PUSH (2^24), so these fit a jsize and never overflow.
            let (from, from3) = (start as i32, 3 * start as i32);
            t_ns.get_region(env, from, t.prefix_mut(m))?;
            accel.get_region(env, from3, a.prefix_mut(3 * m))?;
            if copy_gyro {
                gyro.get_region(env, from3, g.prefix_mut(3 * m))?;
            }
            let s = guard(|| {
                for (i, out) in samples.prefix_mut(m).iter_mut().enumerate() {
                    *out = mg_sample {
                        t_ns: t.buf[i],
                        ax: a.buf[3 * i],
                        ay: a.buf[3 * i + 1],
                        az: a.buf[3 * i + 2],
                        gx: g.buf[3 * i],
                        gy: g.buf[3 * i + 1],
                        gz: g.buf[3 * i + 2],
                        has_gyro: u8::from(copy_gyro),
                    };
                }
                push_samples(session, &samples.buf[..m], start)
            });
            if s != mg_status::MG_OK {
                return Ok(status(s));
            }
            start += m;
        }
        Ok(status(mg_status::MG_OK))
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int sessionNextEvent(long session, long[] out)`: `out` = {start_ns, end_ns, activity, kind,
/// Float.floatToRawIntBits(confidence)}.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionNextEvent<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
    out: JLongArray<'l>,
) -> jint {
    env.with_env(|env| -> JResult<jint> {
        if out.is_null() || out.len(env)? < 5 {
            return Ok(invalid("out must be a long[5]"));
        }
        let mut ev = mg_event::default();
        // SAFETY: `session` is 0 or a live handle used by one thread at a time; `ev` is writable.
        let s = unsafe { mg_session_next_event(handle(session), &mut ev) };
        if s == mg_status::MG_OK {
            let packed =
                [ev.start_ns, ev.end_ns, ev.activity as jlong, ev.kind as jlong, jlong::from(ev.confidence.to_bits())];
            out.set_region(env, 0, &packed)?;
        }
        Ok(status(s))
    })
    .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int sessionWindows(long session, long[] out)`: `out` = {windows classified, of those without
/// gravity}.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionWindows<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
    out: JLongArray<'l>,
) -> jint {
    // SAFETY: `session` is 0 or a live handle used by one thread at a time; `count_pair` passes writable locals.
    env.with_env(|env| count_pair(env, &out, |a, b| unsafe { mg_session_windows(handle(session), a, b) }))
        .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int sessionWindowsRefused(long session, long[] out)`: `out` = {windows refused as a dead sensor,
/// windows refused as acceleration in g}.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionWindowsRefused<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
    out: JLongArray<'l>,
) -> jint {
    // SAFETY: `session` is 0 or a live handle used by one thread at a time; `count_pair` passes writable locals.
    env.with_env(|env| count_pair(env, &out, |a, b| unsafe { mg_session_windows_refused(handle(session), a, b) }))
        .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int sessionGyroscope(long session, long[] out)`: `out` = {windows whose gravity estimate the
/// gyroscope contradicted, 1 once the gyroscope is ignored else 0}.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionGyroscope<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
    out: JLongArray<'l>,
) -> jint {
    // SAFETY: `session` is 0 or a live handle used by one thread at a time; `count_pair` passes writable locals.
    env.with_env(|env| count_pair(env, &out, |a, b| unsafe { mg_session_gyroscope(handle(session), a, b) }))
        .resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native int sessionStatus(long session)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionStatus<'l>(
    _env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
) -> jint {
    // SAFETY: `session` is 0 or a live handle owned by a Java `Session`.
    status(unsafe { mg_session_status(handle(session)) })
}

/// `static native void sessionFree(long session)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_sessionFree<'l>(
    _env: EnvUnowned<'l>,
    _class: JClass<'l>,
    session: jlong,
) {
    // SAFETY: `session` is 0 or a live handle; the Java `NativeHandle` zeroes its value under its lock before it
    // calls this, once (from `Session.close()` or the cleaner, which runs only once the `Session` is unreachable: its
    // methods keep it reachable through their native calls), so it is freed once and never while in use.
    unsafe { mg_session_free(handle(session)) }
}

/// `static native String statusStr(int status)`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_statusStr<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    code: jint,
) -> JString<'l> {
    env.with_env(|env| static_str(env, mg_status_str(code))).resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native String lastError()`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_lastError<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> JString<'l> {
    env.with_env(|env| static_str(env, mg_last_error())).resolve::<ThrowRuntimeExAndDefault>()
}

/// `static native String version()`
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_motiongate_Native_version<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> JString<'l> {
    env.with_env(|env| static_str(env, mg_version())).resolve::<ThrowRuntimeExAndDefault>()
}
