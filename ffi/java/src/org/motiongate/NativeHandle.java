package org.motiongate;

import java.lang.ref.Cleaner;
import java.util.function.LongConsumer;

/**
 * The native handle of a {@link Gate} or {@link Session}, and the action that frees it. It is registered with a
 * {@link Cleaner} for its owner, so a native object whose Java owner was dropped without {@code close()} is still
 * freed (for a session: its buffers of raw motion wiped and {@code session_closed} logged) once the owner is
 * garbage-collected. It holds no reference to its owner, which would keep the owner reachable for ever.
 */
final class NativeHandle implements Runnable {
    /** One daemon thread for every gate and session of the process. */
    private static final Cleaner CLEANER = Cleaner.create();

    private long value;
    private final LongConsumer free;
    private final Cleaner.Cleanable cleanable;

    /** Takes ownership of {@code value} (0 for none) for {@code owner}; {@code free} must not reach the owner. */
    NativeHandle(Object owner, long value, LongConsumer free) {
        this.value = value;
        this.free = free;
        this.cleanable = CLEANER.register(owner, this);
    }

    /** The handle, or 0 once freed. */
    synchronized long get() {
        return value;
    }

    /** Frees the native object now (from the owner's {@code close()}); later calls do nothing. */
    void close() {
        cleanable.clean();
    }

    /** The cleaning action: runs at most once, from {@link #close()} or on the cleaner's thread. */
    @Override
    public void run() {
        long h;
        synchronized (this) {
            h = value;
            value = 0;
        }
        if (h != 0) {
            free.accept(h);
        }
    }
}
