package com.github.restguard.atlassian;

/**
 * A refused assertion. The message holds the reason and a short detail; it
 * never contains the assertion, a claim value or key material, so it is
 * safe to log.
 */
public final class AssertionException extends Exception {
    private static final long serialVersionUID = 1L;

    private final Reason reason;

    AssertionException(Reason reason, String detail) {
        // No stack trace: refusals are expected, frequent and carry no cause.
        super("assertion: " + reason.code() + (detail.isEmpty() ? "" : ": " + detail), null, false, false);
        this.reason = reason;
    }

    AssertionException(Reason reason) {
        this(reason, "");
    }

    /** Why the assertion was refused. */
    public Reason reason() {
        return reason;
    }
}
