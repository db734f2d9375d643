package com.github.restguard.atlassian;

/**
 * Why an assertion was refused. The codes are the stable reason strings of
 * the format (docs/identity-assertion.md), the same words the Go verifier
 * in restguard's {@code assertion} package returns, in the order the checks
 * run.
 */
public enum Reason {
    /** Not three canonical base64url segments, invalid JSON, wrong claim types. */
    MALFORMED("malformed"),
    /** Header members or values other than the format's, or alg not bound to the key type. */
    BAD_HEADER("bad_header"),
    /** The kid is not in the key set. */
    UNKNOWN_KEY("unknown_key"),
    /** The signature does not verify. */
    BAD_SIGNATURE("bad_signature"),
    /** iss is not the configured issuer. */
    WRONG_ISSUER("wrong_issuer"),
    /** aud is not the configured audience. */
    WRONG_AUDIENCE("wrong_audience"),
    /** sub missing or empty. */
    NO_SUBJECT("no_subject"),
    /** iat is later than now + leeway. */
    NOT_YET_VALID("not_yet_valid"),
    /** exp is not later than now - leeway. */
    EXPIRED("expired"),
    /** exp - iat is more than 60 seconds. */
    LIFETIME_TOO_LONG("lifetime_too_long"),
    /** htm is not the request's method. */
    WRONG_METHOD("wrong_method"),
    /** rth is not the hash of the request's normalised target. */
    WRONG_TARGET("wrong_target"),
    /** The jti was seen before within its lifetime. */
    REPLAYED("replayed"),
    /** The replay cache is full of unexpired entries; refused rather than forget one early. */
    REPLAY_CACHE_FULL("replay_cache_full");

    private final String code;

    Reason(String code) {
        this.code = code;
    }

    /** The stable reason string, e.g. {@code "expired"}. */
    public String code() {
        return code;
    }
}
