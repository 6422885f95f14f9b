package org.motiongate;

/**
 * The consent gate of one purpose ({@code mg_gate}). Thread-safe: methods may be called from any thread (the UI
 * thread typically calls {@link #withdraw}, even while a {@link Session} is pushed on a sensor thread).
 * {@link #close()} frees the native gate (idempotent); sessions opened from it stay valid. A gate that is never
 * closed is freed by the library's cleanup thread once it has been garbage-collected.
 */
public final class Gate implements AutoCloseable {
    /** Freed by {@link #close()}, or by the cleanup thread once this object is unreachable if never closed. */
    private final NativeHandle handle;

    private Gate(long handle) {
        this.handle = new NativeHandle(this, handle, Native::gateFree);
    }

    /**
     * Opens and verifies the consent record at {@code path} with {@code key} (16 to 1024 bytes, from the Android
     * Keystore) for {@code purpose} at {@code policyVersion}. Throws status 31 when the record is damaged or was
     * written with another key.
     */
    public static Gate open(String path, byte[] key, String purpose, int policyVersion) {
        long[] out = new long[1];
        Native.check(Native.gateOpen(path, key, purpose, policyVersion, out));
        return new Gate(out[0]);
    }

    /**
     * {@link #open} for an app that keeps the record's head ({@link #head()}) somewhere the record is not, such as
     * Keystore-encrypted preferences excluded from backup ({@code mg_gate_open_checked}): throws status 31, writing
     * nothing to the record, unless its head is {@code expected}. This catches what the record's MACs cannot: a
     * record rolled back to an older copy (a restored backup), replaced by a copy made elsewhere with the same key,
     * or deleted (a missing record has 0 entries and 64 zeros). Opening may itself move the head: read
     * {@link #head()} again after it returns, and after every grant, deny, withdrawal and session.
     */
    public static Gate openExpecting(String path, byte[] key, String purpose, int policyVersion, Head expected) {
        if (expected == null) {
            throw new NullPointerException("expected");
        }
        long[] out = new long[1];
        Native.check(Native.gateOpenChecked(path, key, purpose, policyVersion, expected.count, expected.hash, out));
        return new Gate(out[0]);
    }

    /**
     * The live handle. A caller must keep {@code this} reachable until its native call returns (with
     * {@link NativeHandle#keepAlive} after the call): else the cleanup thread could free the handle during the call.
     */
    private long live() {
        long h = handle.get();
        if (h == 0) {
            throw new IllegalStateException("gate is closed");
        }
        return h;
    }

    /** The consent state of this gate's purpose. */
    public synchronized ConsentState state() {
        int[] out = new int[1];
        try {
            Native.check(Native.gateState(live(), out));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return ConsentState.fromCode(out[0]);
    }

    /**
     * The head of the consent record: its number of entries and the last entry's SHA-256 (64 hex digits). An older
     * copy of the record (a restored backup) still verifies with the same key; keep the head elsewhere (for example
     * in Keystore-encrypted preferences excluded from backup), update it after each change, and compare it after
     * {@link #open}: when this app is the record's only writer, any difference means the file was replaced.
     */
    public synchronized Head head() {
        long[] count = new long[1];
        byte[] hash = new byte[64];
        try {
            Native.check(Native.gateHead(live(), count, hash));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return new Head(count[0], new String(hash, java.nio.charset.StandardCharsets.US_ASCII));
    }

    /** The head of a consent record (see {@link Gate#head()}). */
    public static final class Head {
        /** Number of entries. */
        public final long count;
        /** SHA-256 of the last entry, 64 lowercase hex digits (all zeros for an empty record). */
        public final String hash;

        /** A head kept by the app, to open against with {@link Gate#openExpecting}. */
        public Head(long count, String hash) {
            this.count = count;
            this.hash = hash;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Head && ((Head) o).count == count && ((Head) o).hash.equals(hash);
        }

        @Override
        public int hashCode() {
            // Long.hashCode(long) needs Android API 24: this is its value.
            return (int) (count ^ (count >>> 32)) * 31 + hash.hashCode();
        }

        @Override
        public String toString() {
            return count + ":" + hash;
        }
    }

    /** Records the user's grant (accelerometer and gyroscope) at {@code unixMs}. */
    public synchronized void grant(long unixMs) {
        try {
            Native.check(Native.gateGrant(live(), unixMs));
        } finally {
            NativeHandle.keepAlive(this);
        }
    }

    /** Records a refusal (status 22 while consent is granted: use {@link #withdraw}). */
    public synchronized void deny(long unixMs) {
        try {
            Native.check(Native.gateDeny(live(), unixMs));
        } finally {
            NativeHandle.keepAlive(this);
        }
    }

    /**
     * Withdraws consent: before this returns, every open session of this purpose is stopped and wiped. Call it when
     * the user revokes consent and when {@code ACTIVITY_RECOGNITION} is revoked. Returns the bytes wiped.
     */
    public synchronized long withdraw(long unixMs) {
        long[] out = new long[1];
        try {
            Native.check(Native.gateWithdraw(live(), unixMs, out));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return out[0];
    }

    /** Opens a live session (throws a gated {@link MotiongateException} without consent). */
    public synchronized Session openSession() {
        long[] out = new long[1];
        try {
            Native.check(Native.sessionOpen(live(), out));
        } finally {
            NativeHandle.keepAlive(this);
        }
        return new Session(out[0]);
    }

    @Override
    public synchronized void close() {
        handle.close();
    }

    /** The native library version. */
    public static String version() {
        return Native.version();
    }
}
