package org.motiongate;

/** One decision or transition ({@code mg_event}): an activity, a confidence and times; never a sample. */
public final class Event {
    /** {@code mg_event_kind}. */
    public enum Kind {
        /** The decision for one window hop. */
        UPDATE,
        /** A new activity is now current. */
        ENTER,
        /** The current activity ended. */
        EXIT
    }

    public final long startNs;
    public final long endNs;
    public final Activity activity;
    public final float confidence;
    public final Kind kind;

    Event(long startNs, long endNs, Activity activity, float confidence, Kind kind) {
        this.startNs = startNs;
        this.endNs = endNs;
        this.activity = activity;
        this.confidence = confidence;
        this.kind = kind;
    }

    @Override
    public String toString() {
        return kind + " " + activity + " " + startNs + ".." + endNs + " (" + confidence + ")";
    }
}
