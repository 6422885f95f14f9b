package org.motiongate;

import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.Collections;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The native handle of a {@link Gate} or {@link Session}, and the action that frees it. A phantom reference to its
 * owner is registered for it, so a native object whose Java owner was dropped without {@code close()} is still freed
 * (for a session: its buffers of raw motion wiped and {@code session_closed} logged) once the owner is
 * garbage-collected. It holds no reference to its owner, which would keep the owner reachable for ever.
 *
 * <p>Built only on APIs present since Java 8 and Android API 21 ({@code java.lang.ref.Cleaner} needs Android API 33,
 * {@code Reference.reachabilityFence} API 28, {@code java.util.function} and {@code ConcurrentHashMap.newKeySet} API
 * 24): a {@link PhantomReference} per handle, kept reachable in a static set until it is processed; one static
 * {@link ReferenceQueue}; and one daemon thread, started with the first handle, that takes each enqueued reference
 * off the queue and frees its handle.
 */
final class NativeHandle {
    /** Frees a native handle ({@code Native::sessionFree}, {@code Native::gateFree}). */
    interface Free {
        void free(long handle);
    }

    /** Where the collector enqueues the phantom of an owner that has become unreachable. */
    private static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<Object>();

    /**
     * The phantoms of the handles not yet freed. A reference that is itself unreachable is never enqueued, so each
     * phantom stays here until {@link #close()} or the cleanup thread removes it.
     */
    private static final Set<Phantom> PENDING =
            Collections.newSetFromMap(new ConcurrentHashMap<Phantom, Boolean>());

    /** Whether the cleanup thread runs; guarded by {@code NativeHandle.class}. */
    private static boolean cleanupThreadStarted;

    /** Written by {@link #keepAlive} only: see there. */
    private static volatile Object keepAliveSink;

    /** The handle, 0 once freed (or if there was none); guarded by {@code this}. */
    private long value;

    private final Free free;
    private final Phantom phantom;

    /** Takes ownership of {@code value} (0 for none) for {@code owner}; {@code free} must not reach the owner. */
    NativeHandle(Object owner, long value, Free free) {
        this.value = value;
        this.free = free;
        this.phantom = new Phantom(owner, this);
        PENDING.add(phantom);
        startCleanupThread();
    }

    /** The handle, or 0 once freed. */
    synchronized long get() {
        return value;
    }

    /**
     * Frees the native object now (from the owner's {@code close()}) and unregisters it: the phantom is removed from
     * the set and cleared, so it is never enqueued. Later calls do nothing.
     */
    void close() {
        PENDING.remove(phantom);
        phantom.clear();
        freeOnce();
    }

    /**
     * Zeroes the handle under the lock, then frees it if it was not 0: so {@code free} runs at most once, whether
     * from {@link #close()} or from the cleanup thread, or both.
     */
    private void freeOnce() {
        long h;
        synchronized (this) {
            h = value;
            value = 0;
        }
        if (h != 0) {
            free.free(h);
        }
    }

    /**
     * Keeps {@code o} reachable until this call: the Java 8 / Android API 21 stand-in for
     * {@code Reference.reachabilityFence(o)}. A method that passes its owner's handle to native code calls
     * {@code keepAlive(this)} in a {@code finally} after the native call, or the owner could become unreachable (its
     * last use being the read of the handle) and the cleanup thread free the handle while native code uses it.
     *
     * <p>Why this works: {@code o} is stored to a volatile field, a store compilers keep (HotSpot and ART neither drop
     * nor merge volatile stores) and may not move before the native call, so {@code o} is live until that point; the
     * field is cleared at once so it keeps nothing reachable afterwards. Unlike {@code reachabilityFence}, the Java
     * Language Specification does not itself promise this; every caller is also {@code synchronized} on (or called
     * from a method synchronized on) the owner, whose monitor is released only after the native call returns.
     */
    static void keepAlive(Object o) {
        keepAliveSink = o;
        keepAliveSink = null;
    }

    private static synchronized void startCleanupThread() {
        if (cleanupThreadStarted) {
            return;
        }
        Thread t = new Thread(new Runnable() {
            @Override
            public void run() {
                cleanUp();
            }
        }, "motiongate-cleanup");
        t.setDaemon(true);
        t.start();
        cleanupThreadStarted = true;
    }

    /** The cleanup thread's loop: frees the handle of every owner the collector found unreachable. Never returns. */
    private static void cleanUp() {
        while (true) {
            Reference<?> r;
            try {
                r = QUEUE.remove();
            } catch (InterruptedException e) {
                // Nothing of ours interrupts this thread; whoever did, pending handles still need freeing.
                continue;
            }
            Phantom p = (Phantom) r;
            PENDING.remove(p);
            p.clear();
            try {
                p.handle.freeOnce();
            } catch (Throwable e) {
                // As a Cleaner ignores its actions' exceptions: the thread must go on freeing the other handles.
            }
        }
    }

    /** The phantom reference to one owner; it refers to the handle, never to the owner. */
    private static final class Phantom extends PhantomReference<Object> {
        final NativeHandle handle;

        Phantom(Object owner, NativeHandle handle) {
            super(owner, QUEUE);
            this.handle = handle;
        }
    }
}
