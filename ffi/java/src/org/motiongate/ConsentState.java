package org.motiongate;

/** Consent state of a gate's purpose at its policy version ({@code mg_consent_state}). */
public enum ConsentState {
    NOT_DETERMINED, GRANTED, DENIED, WITHDRAWN, RECONSENT_REQUIRED;

    static ConsentState fromCode(int code) {
        return values()[code];
    }
}
