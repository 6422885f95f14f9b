import java.io.BufferedReader;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import org.motiongate.Activity;
import org.motiongate.ConsentState;
import org.motiongate.Event;
import org.motiongate.Gate;
import org.motiongate.MotiongateException;
import org.motiongate.Session;

/** The flow of ffi/tests/c/flow.c through the Java API. Plain main: exits 1 on the first failure. */
public final class FlowTest {
    private static int checks = 0;

    private static void check(boolean cond, String what) {
        checks++;
        if (!cond) {
            System.err.println("FAIL: " + what);
            System.exit(1);
        }
    }

    interface Body {
        void run();
    }

    private static MotiongateException expectStatus(int status, String what, Body body) {
        try {
            body.run();
        } catch (MotiongateException e) {
            check(e.getStatus() == status, what + ": status " + e.getStatus() + " (" + e.getMessage() + "), expected " + status);
            return e;
        }
        check(false, what + ": no exception, expected status " + status);
        return null;
    }

    private static final byte[] KEY = new byte[32];
    private static final String PURPOSE = "activity";
    private static final int POLICY = 3;
    private static final long T0 = 1700000000000L;

    public static void main(String[] args) throws IOException {
        for (int i = 0; i < KEY.length; i++) KEY[i] = (byte) (i + 1);
        String tracePath = args.length > 0 ? args[0] : "data/hapt_user01_rec1_excerpt.csv";
        List<double[]> rows = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(Paths.get(tracePath), StandardCharsets.UTF_8)) {
            String line;
            boolean header = false;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                if (!header) {
                    check(line.startsWith("t,ax,ay,az,gx,gy,gz,label"), "trace header");
                    header = true;
                    continue;
                }
                String[] f = line.split(",", -1);
                double[] v = new double[7];
                for (int k = 0; k < 7; k++) v[k] = Double.parseDouble(f[k]);
                rows.add(v);
            }
        }
        int n = rows.size();
        check(n > 1000, "trace has " + n + " samples");
        System.out.println("motiongate " + Gate.version() + " (JNI): " + n + " samples from " + tracePath);

        Path dir = Files.createTempDirectory("motiongate-jni-");
        String record = dir.resolve("consent.json").toString();
        try {
            run(rows, record);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        System.out.println("FlowTest: all " + checks + " checks passed");
    }

    /**
     * How many native handles are registered for freeing and not yet freed: the size of the package-private
     * NativeHandle.PENDING set (read by reflection: this test is not in the package).
     */
    private static int pendingHandles() {
        try {
            Field f = Class.forName("org.motiongate.NativeHandle").getDeclaredField("PENDING");
            f.setAccessible(true);
            return ((Set<?>) f.get(null)).size();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("NativeHandle.PENDING", e);
        }
    }

    /** Opens a session, pushes into it and drops it without close(). */
    private static void openPushAndDrop(Gate gate) {
        Session s = gate.openSession();
        long[] t = new long[100];
        float[] a = new float[300];
        for (int j = 0; j < 100; j++) {
            t[j] = j * 20_000_000L;
            a[3 * j + 2] = 9.81f;
        }
        s.push(t, a, null);
    }

    /**
     * A session dropped without close() is freed once it is garbage-collected: its buffers wiped and session_closed
     * logged, which adds an entry to the record (its head count moves).
     */
    private static void aDroppedSessionIsFreedByTheCleaner(Gate gate) {
        long before = gate.head().count;
        int pendingBefore = pendingHandles();
        openPushAndDrop(gate);
        check(pendingHandles() == pendingBefore + 1, "the dropped session's handle is pending");
        long opened = gate.head().count;
        check(opened == before + 1, "session_opened logged: " + before + " -> " + opened);
        // Bounded: a collection normally finds the session at the first System.gc(); give up after ~10 s.
        for (int i = 0; i < 200 && gate.head().count == opened; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        long closed = gate.head().count;
        System.out.println("dropped session: record head " + opened + " -> " + closed + " entries");
        check(closed == opened + 1, "a session dropped without close() is freed (session_closed logged)");
        check(pendingHandles() == pendingBefore, "the freed session's phantom is removed from the pending set");
    }

    private static void run(List<double[]> rows, String record) throws IOException {
        int n = rows.size();
        Gate gate = Gate.open(record, KEY, PURPOSE, POLICY);
        check(gate.state() == ConsentState.NOT_DETERMINED, "initial state " + gate.state());
        MotiongateException e = expectStatus(10, "session before consent", gate::openSession);
        check(e.isGated(), "gated exception");

        // Bad arguments.
        expectStatus(20, "null path", () -> Gate.open(null, KEY, PURPOSE, POLICY));
        expectStatus(20, "null key", () -> Gate.open(record, null, PURPOSE, POLICY));
        expectStatus(20, "short key", () -> Gate.open(record, new byte[3], PURPOSE, POLICY));
        expectStatus(20, "bad purpose", () -> Gate.open(record, KEY, "Not A Purpose", POLICY));
        expectStatus(20, "negative time", () -> gate.grant(-1));

        Gate.Head empty = gate.head();
        gate.grant(T0);
        check(gate.state() == ConsentState.GRANTED, "granted");
        Gate.Head granted = gate.head();
        check(granted.count == empty.count + 1 && granted.hash.matches("[0-9a-f]{64}") && !granted.equals(empty),
                "head moves with the grant: " + empty + " -> " + granted);
        expectStatus(22, "deny while granted", () -> gate.deny(T0 + 1));

        int updates = 0, enters = 0, exits = 0;
        boolean walking = false, still = false;
        Session session = gate.openSession();
        check(session.status() == 0, "live session");
        session.push(new long[0], new float[0], null);
        expectStatus(20, "short accel array", () -> session.push(new long[2], new float[3], null));
        expectStatus(20, "null arrays", () -> session.push(null, null, null, 4));
        expectStatus(21, "NaN sample", () -> session.push(new long[] {1}, new float[] {Float.NaN, 0, 9.8f}, null));
        check(session.nextEvent() == null, "no event yet");

        // More than the native side's 64-sample copy buffer per call, and not a multiple of it.
        final int chunk = 150;
        long[] t = new long[chunk];
        float[] a = new float[3 * chunk];
        float[] g = new float[3 * chunk];
        for (int i = 0; i < n; i += chunk) {
            int m = Math.min(chunk, n - i);
            for (int j = 0; j < m; j++) {
                double[] v = rows.get(i + j);
                t[j] = Math.round(v[0] * 1e9);
                for (int k = 0; k < 3; k++) {
                    a[3 * j + k] = (float) v[1 + k];
                    g[3 * j + k] = (float) v[4 + k];
                }
            }
            session.push(t, a, g, m);
            Event ev;
            while ((ev = session.nextEvent()) != null) {
                check(ev.confidence >= 0f && ev.confidence <= 1f, "confidence " + ev.confidence);
                switch (ev.kind) {
                    case UPDATE: updates++; break;
                    case EXIT: exits++; break;
                    case ENTER:
                        enters++;
                        System.out.printf("  ENTER %7.2f - %7.2f  %-8s (%.2f)%n", ev.startNs / 1e9, ev.endNs / 1e9,
                                ev.activity, ev.confidence);
                        walking |= ev.activity == Activity.WALKING;
                        still |= ev.activity == Activity.STILL;
                        break;
                }
            }
        }
        System.out.println("events: " + updates + " update, " + enters + " enter, " + exits + " exit");
        check(updates > 50, "updates: " + updates);
        check(walking, "an ENTER of walking");
        check(still, "an ENTER of still");
        // The excerpt is the raw accelerometer: every window holds gravity.
        long classified = session.windowsClassified();
        long withoutGravity = session.windowsWithoutGravity();
        System.out.println("windows: " + classified + " classified, " + withoutGravity + " without gravity");
        check(classified > 50, "windows classified: " + classified);
        check(withoutGravity == 0, "windows without gravity: " + withoutGravity);
        // Its gyroscope is in rad/s, as it must be: nothing contradicts the accelerometer, and it is not ignored.
        check(session.windowsGyroscopeContradicted() == 0 && !session.gyroscopeIgnored(), "gyroscope contradicted");

        long wiped = gate.withdraw(T0 + 60000);
        System.out.println("withdraw wiped " + wiped + " bytes");
        check(wiped > 0, "bytes wiped");
        MotiongateException w = expectStatus(12, "push after withdraw", () -> session.push(t, a, g, 1));
        check(w.isGated(), "withdrawn is gated");
        // The gate is checked before the arrays are looked at or copied, as mg_session_push checks it before its
        // samples pointer: a stopped session gives the gated status even for arrays it could not have read.
        expectStatus(12, "push of null arrays after withdraw", () -> session.push(null, null, null, 4));
        expectStatus(12, "push of short arrays after withdraw", () -> session.push(new long[1], new float[1], null, 64));
        expectStatus(12, "next event after withdraw", session::nextEvent);
        check(session.status() == 12, "session status after withdraw");
        // Counts, not signal data: still readable, and the wipe did not reset them.
        check(session.windowsClassified() == classified, "windows classified after withdraw");
        check(session.windowsWithoutGravity() == 0, "windows without gravity after withdraw");
        check(gate.state() == ConsentState.WITHDRAWN, "withdrawn state");
        expectStatus(12, "open after withdraw", gate::openSession);
        int pending = pendingHandles();
        session.close();
        check(pendingHandles() == pending - 1, "close() removes the session's phantom from the pending set");
        session.close(); // idempotent
        check(pendingHandles() == pending - 1, "a second close() changes nothing");
        gate.close();
        gate.close();
        check(pendingHandles() == pending - 2, "close() removes the gate's phantom from the pending set");

        try (Gate again = Gate.open(record, KEY, PURPOSE, POLICY)) {
            check(again.state() == ConsentState.WITHDRAWN, "persisted withdrawal");
            check(again.head().count > granted.count, "the head counts the later entries");
        }

        // 20 s at 50 Hz of a gentle sway as linear acceleration (gravity removed): every window lacks gravity.
        try (Gate linear = Gate.open(record, KEY, PURPOSE, POLICY)) {
            linear.grant(T0 + 70000);
            aDroppedSessionIsFreedByTheCleaner(linear);
            final int m = 1000;
            long[] st = new long[m];
            float[] sa = new float[3 * m];
            for (int j = 0; j < m; j++) {
                st[j] = j * 20_000_000L;
                sa[3 * j + 2] = (float) (0.5 * Math.sin(11.0 * j * 0.02));
            }
            try (Session s = linear.openSession()) {
                s.push(st, sa, null);
                long lc = s.windowsClassified();
                long lw = s.windowsWithoutGravity();
                System.out.println("linear acceleration: " + lc + " windows classified, " + lw + " without gravity");
                check(lc >= 5, "windows classified without gravity: " + lc);
                check(lw == lc, "windows without gravity: " + lw + " of " + lc);
                check(s.windowsRefusedInG() == 0 && s.windowsRefusedDeadSensor() == 0, "linear acceleration refused");
            }
            // The same sway around gravity in g, as iOS's CoreMotion reports it: refused unjudged, every window.
            for (int j = 0; j < m; j++) {
                sa[3 * j + 2] = (float) (1.0 + 0.05 * Math.sin(11.0 * j * 0.02));
            }
            try (Session s = linear.openSession()) {
                s.push(st, sa, null);
                long gc = s.windowsClassified();
                long gi = s.windowsRefusedInG();
                System.out.println("gravity in g: " + gc + " windows classified, " + gi + " refused as g");
                check(gc >= 5 && gi == gc, "windows refused as g: " + gi + " of " + gc);
                check(s.windowsWithoutGravity() == 0 && s.windowsRefusedDeadSensor() == 0, "g windows miscounted");
                for (Event ev = s.nextEvent(); ev != null; ev = s.nextEvent()) {
                    check(ev.activity == Activity.UNKNOWN, "a decision on input in g: " + ev.activity);
                }
            }
        }

        // Opening against a kept head: the head opens the record; another (a rolled-back record) is refused and the
        // record is not written.
        Gate.Head kept;
        try (Gate keeping = Gate.open(record, KEY, PURPOSE, POLICY)) {
            kept = keeping.head();
        }
        try (Gate checked = Gate.openExpecting(record, KEY, PURPOSE, POLICY, kept)) {
            check(checked.head().equals(kept), "opening against the kept head moves nothing");
        }
        byte[] before = java.nio.file.Files.readAllBytes(new java.io.File(record).toPath());
        final Gate.Head older = new Gate.Head(kept.count - 1, kept.hash);
        expectStatus(31, "another head", () -> Gate.openExpecting(record, KEY, PURPOSE, POLICY, older));
        check(java.util.Arrays.equals(before, java.nio.file.Files.readAllBytes(new java.io.File(record).toPath())),
                "a refused open writes nothing");
        final Gate.Head malformed = new Gate.Head(kept.count, "0123");
        expectStatus(20, "malformed head", () -> Gate.openExpecting(record, KEY, PURPOSE, POLICY, malformed));

        // Another key, and a damaged record: fail closed.
        byte[] other = KEY.clone();
        other[0] ^= (byte) 0xFF;
        expectStatus(31, "wrong key", () -> Gate.open(record, other, PURPOSE, POLICY));
        try (RandomAccessFile f = new RandomAccessFile(record, "rw")) {
            long at = f.length() / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x04);
        }
        expectStatus(31, "damaged record", () -> Gate.open(record, KEY, PURPOSE, POLICY));
    }
}
