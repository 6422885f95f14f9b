package org.motiongate;

/**
 * A live classification session ({@code mg_session}). Use it from one thread at a time (typically the sensor
 * thread; methods are synchronized). After consent ends, {@link #push} and {@link #nextEvent} throw a gated
 * {@link MotiongateException} (status 12 after a withdrawal). {@link #close()} wipes the buffers and logs
 * {@code session_closed}; it is idempotent. A session that is never closed is freed the same way by the library's
 * cleanup thread once it has been garbage-collected, which may be much later (its raw motion stays in native memory
 * until then): close it.
 */
public final class Session implements AutoCloseable {
    /** Freed by {@link #close()}, or by the cleanup thread once this object is unreachable if never closed. */
    private final NativeHandle handle;

    Session(long handle) {
        this.handle = new NativeHandle(this, handle, Native::sessionFree);
    }

    /**
     * The live handle. A caller must keep {@code this} reachable until its native call returns (with
     * {@link NativeHandle#keepAlive} after the call): else the cleanup thread could free the handle during the call.
     */
    private long live() {
        long h = handle.get();
        if (h == 0) {
            throw new IllegalStateException("session is closed");
        }
        return h;
    }

    /**
     * Pushes {@code tNs.length} samples: {@code tNs} monotonic ns (strictly increasing, e.g.
     * {@code SensorEvent.timestamp}), {@code accel} x,y,z per sample in m/s^2 with gravity, {@code gyro} x,y,z per
     * sample in rad/s or {@code null}.
     */
    public void push(long[] tNs, float[] accel, float[] gyro) {
        push(tNs, accel, gyro, tNs == null ? 0 : tNs.length);
    }

    /** Pushes the first {@code n} samples of the arrays. */
    public synchronized void push(long[] tNs, float[] accel, float[] gyro, int n) {
        try {
            Native.check(Native.sessionPush(live(), tNs, accel, gyro, n));
        } finally {
            NativeHandle.keepAlive(this);
        }
    }

    /** The oldest pending event, or {@code null} when none is pending. */
    public synchronized Event nextEvent() {
        long[] out = new long[5];
        int status;
        try {
            status = Native.sessionNextEvent(live(), out);
        } finally {
            NativeHandle.keepAlive(this);
        }
        if (status == MotiongateException.NO_EVENT) {
            return null;
        }
        Native.check(status);
        return new Event(out[0], out[1], Activity.fromCode((int) out[2]),
                Float.intBitsToFloat((int) out[4]), Event.Kind.values()[(int) out[3]]);
    }

    /**
     * Windows classified so far ({@code mg_session_windows}). A count, not signal data: readable also after consent
     * ended, and a withdrawal's wipe does not reset it.
     */
    public synchronized long windowsClassified() {
        return windows()[0];
    }

    /**
     * Of {@link #windowsClassified()}, the windows whose input held no gravity: the app is feeding
     * {@code TYPE_LINEAR_ACCELERATION} instead of {@code TYPE_ACCELEROMETER}, and decisions are less reliable (the
     * model then has no vertical axis). A count, not signal data: readable also after consent ended, and a
     * withdrawal's wipe does not reset it.
     */
    public synchronized long windowsWithoutGravity() {
        return windows()[1];
    }

    /**
     * Of {@link #windowsClassified()}, the windows refused unjudged (reported {@link Activity#UNKNOWN}) as a dead
     * sensor: no variation at all ({@code mg_session_windows_refused}). A count, not signal data, as above.
     */
    public synchronized long windowsRefusedDeadSensor() {
        return windowsRefused()[0];
    }

    /**
     * Of {@link #windowsClassified()}, the windows refused unjudged as acceleration in g where m/s^2 are expected
     * ({@code mg_session_windows_refused}): a count that grows means the values need multiplying by 9.80665. A
     * count, not signal data, as above.
     */
    public synchronized long windowsRefusedInG() {
        return windowsRefused()[1];
    }

    /**
     * Windows whose gravity estimate the gyroscope turned away from the gravity the accelerometer shows
     * ({@code mg_session_gyroscope}): rates in deg/s where rad/s are expected do this. A count, not signal data, as
     * above.
     */
    public synchronized long windowsGyroscopeContradicted() {
        return gyroscope()[0];
    }

    /**
     * Whether the gyroscope is ignored from now on ({@code mg_session_gyroscope}): after 10 s of windows it
     * contradicted, gravity comes from the accelerometer alone. {@code SensorManager}'s {@code TYPE_GYROSCOPE} is in
     * rad/s; a rate source in deg/s needs multiplying by 0.0174533.
     */
    public synchronized boolean gyroscopeIgnored() {
        return gyroscope()[1] != 0;
    }

    private long[] gyroscope() {
        long[] out = new long[2];
        try {
            Native.check(Native.sessionGyroscope(live(), out));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return out;
    }

    private long[] windowsRefused() {
        long[] out = new long[2];
        try {
            Native.check(Native.sessionWindowsRefused(live(), out));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return out;
    }

    private long[] windows() {
        long[] out = new long[2];
        try {
            Native.check(Native.sessionWindows(live(), out));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return out;
    }

    /** 0 while the session may classify, else the gated status, or 99 ({@link MotiongateException#ERR_INTERNAL}) once an
     * internal error stopped it and wiped its buffers (close it and open a new one). */
    public synchronized int status() {
        try {
            return Native.sessionStatus(live());
        } finally {
            NativeHandle.keepAlive(this);
        }
    }

    @Override
    public synchronized void close() {
        handle.close();
    }
}
