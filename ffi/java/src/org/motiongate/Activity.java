package org.motiongate;

/** What the classifier reports ({@code mg_activity}). */
public enum Activity {
    STILL, WALKING, RUNNING, TRANSIT, UNKNOWN;

    static Activity fromCode(int code) {
        Activity[] all = values();
        return code >= 0 && code < all.length ? all[code] : UNKNOWN;
    }
}
