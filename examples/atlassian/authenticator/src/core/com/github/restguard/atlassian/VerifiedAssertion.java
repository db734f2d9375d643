package com.github.restguard.atlassian;

import java.util.List;

/** The claims of an assertion that passed every check. Times are Unix seconds. */
public final class VerifiedAssertion {
    private final String issuer;
    private final String audience;
    private final String subject;
    private final List<String> groups;
    private final String email;
    private final long issuedAt;
    private final long expiry;
    private final String id;
    private final String method;
    private final String target;

    VerifiedAssertion(String issuer, String audience, String subject, List<String> groups, String email,
            long issuedAt, long expiry, String id, String method, String target) {
        this.issuer = issuer;
        this.audience = audience;
        this.subject = subject;
        this.groups = groups == null ? List.of() : List.copyOf(groups);
        this.email = email;
        this.issuedAt = issuedAt;
        this.expiry = expiry;
        this.id = id;
        this.method = method;
        this.target = target;
    }

    /** iss: the restguard deployment that minted the assertion. */
    public String issuer() { return issuer; }

    /** aud: this product's base URL. */
    public String audience() { return audience; }

    /** sub: the username, as restguard mapped it; never empty. */
    public String subject() { return subject; }

    /** groups: informational only; the product's own group membership applies. Empty when absent. */
    public List<String> groups() { return groups; }

    /** email, or null when absent. */
    public String email() { return email; }

    /** iat. */
    public long issuedAt() { return issuedAt; }

    /** exp. */
    public long expiry() { return expiry; }

    /** jti. */
    public String id() { return id; }

    /** htm: the method the assertion is bound to. */
    public String method() { return method; }

    /** rth: the hash of the target the assertion is bound to. */
    public String target() { return target; }
}
