package org.motiongate;

/**
 * A non-OK {@code mg_status} from the native library. {@link #getStatus()} is the C status code; {@link #isGated()}
 * tells a missing consent (show the consent UI) from an error. The message never contains sensor values.
 */
public class MotiongateException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public static final int OK = 0;
    public static final int NO_EVENT = 1;
    public static final int GATED_NOT_DETERMINED = 10;
    public static final int GATED_DENIED = 11;
    /** Consent withdrawn (also: the session's grant was replaced by a newer one: open a new session). */
    public static final int GATED_WITHDRAWN = 12;
    public static final int GATED_RECONSENT_REQUIRED = 13;
    public static final int ERR_INVALID_ARGUMENT = 20;
    public static final int ERR_INVALID_SAMPLE = 21;
    public static final int ERR_INVALID_TRANSITION = 22;
    public static final int ERR_STORE_IO = 30;
    public static final int ERR_STORE_TAMPERED = 31;
    public static final int ERR_INTERNAL = 99;

    private final int status;

    public MotiongateException(int status, String detail) {
        super(Native.statusStr(status) + " (status " + status + ")"
                + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        this.status = status;
    }

    /** The {@code mg_status} code. */
    public int getStatus() {
        return status;
    }

    /** True for the MG_GATED_* statuses: no consent for live data. */
    public boolean isGated() {
        return status >= 10 && status <= 13;
    }
}
