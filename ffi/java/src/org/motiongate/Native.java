package org.motiongate;

/** The JNI entry points (ffi/src/jni.rs): one per C function, handles as {@code long}, statuses as {@code int}. */
final class Native {
    static {
        System.loadLibrary("motiongate_ffi");
    }

    private Native() {}

    static native int gateOpen(String path, byte[] key, String purpose, int policyVersion, long[] outHandle);

    static native int gateOpenChecked(String path, byte[] key, String purpose, int policyVersion, long expectedCount,
            String expectedHash, long[] outHandle);

    static native int gateState(long gate, int[] outState);

    static native int gateHead(long gate, long[] outCount, byte[] outHash);

    static native int gateGrant(long gate, long unixMs);

    static native int gateDeny(long gate, long unixMs);

    static native int gateWithdraw(long gate, long unixMs, long[] outBytesWiped);

    static native void gateFree(long gate);

    static native int sessionOpen(long gate, long[] outHandle);

    static native int sessionPush(long session, long[] tNs, float[] accel, float[] gyro, int n);

    /** out = {start_ns, end_ns, activity, kind, Float.floatToRawIntBits(confidence)}. */
    static native int sessionNextEvent(long session, long[] out);

    /** out = {windows classified, of those the windows without gravity}. */
    static native int sessionWindows(long session, long[] out);

    /** out = {windows refused as a dead sensor, windows refused as acceleration in g}. */
    static native int sessionWindowsRefused(long session, long[] out);
    static native int sessionGyroscope(long session, long[] out);

    static native int sessionStatus(long session);

    static native void sessionFree(long session);

    static native String statusStr(int status);

    static native String lastError();

    static native String version();

    /** Throws a {@link MotiongateException} unless {@code status} is MG_OK. */
    static void check(int status) {
        if (status != MotiongateException.OK) {
            throw new MotiongateException(status, lastError());
        }
    }
}
