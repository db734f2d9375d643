package com.github.restguard.atlassian;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.Signature;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Verifies restguard identity assertions with exactly the rules of the Go verifier
 * ({@code assertion.Verifier}; docs/identity-assertion.md), in the same order, so
 * that both reach the same verdict on the shared test vectors. The first failed
 * check is the {@link Reason}:
 *
 * <ol>
 *   <li>at most {@value #MAX_TOKEN_BYTES} bytes, three segments of canonical
 *       unpadded base64url ({@code malformed});</li>
 *   <li>the header is a strict JSON object ({@code malformed}) with exactly alg, kid
 *       and typ, typ "restguard-assertion+jwt", alg ES256 or EdDSA ({@code bad_header});</li>
 *   <li>kid is in the key set ({@code unknown_key}), and alg is the one bound to that
 *       key's type, EC P-256 ↔ ES256, OKP Ed25519 ↔ EdDSA ({@code bad_header});</li>
 *   <li>the signature verifies; ES256 signatures are 64 bytes r||s, converted to DER
 *       for SHA256withECDSA ({@code bad_signature});</li>
 *   <li>the claims are a strict JSON object with the stated types: iss, aud, jti,
 *       htm, rth strings, iat and exp integers with exp &gt; iat, jti 16 bytes of
 *       base64url, optional sub and email strings and groups array of strings;
 *       unknown members ignored ({@code malformed});</li>
 *   <li>iss ({@code wrong_issuer}), aud ({@code wrong_audience}), sub non-empty
 *       ({@code no_subject});</li>
 *   <li>iat &lt;= now + leeway ({@code not_yet_valid}), exp &gt; now - leeway
 *       ({@code expired}), exp - iat &lt;= 60 ({@code lifetime_too_long});</li>
 *   <li>htm equals the request's method ({@code wrong_method}); rth equals base64url
 *       SHA-256 of the request's path normalised as Tomcat does ({@link TomcatPath}),
 *       followed by '?' and the raw query when it is not empty ({@code wrong_target});</li>
 *   <li>the jti was not seen within exp + leeway ({@code replayed}), and is then
 *       remembered.</li>
 * </ol>
 *
 * <p>Thread-safe. The replay cache is per instance: nodes of a cluster do not share it.
 */
public final class AssertionVerifier {
    /** The default request header. */
    public static final String DEFAULT_HEADER = "X-Restguard-Assertion";
    /** The JWS typ of the format. */
    public static final String TYPE = "restguard-assertion+jwt";
    /** The default clock skew allowed on iat and exp, in seconds. */
    public static final int DEFAULT_LEEWAY_SECONDS = 5;
    /** The default replay cache capacity. */
    public static final int DEFAULT_REPLAY_CAPACITY = 100_000;
    /** The longest compact serialisation accepted. */
    public static final int MAX_TOKEN_BYTES = 8 << 10;
    /** exp - iat may not exceed this. */
    public static final long MAX_LIFETIME_SECONDS = 60;

    private final Supplier<KeySet> keys;
    private final String issuer;
    private final String audience;
    private final String headerName;
    private final long leeway;
    private final Clock clock;
    private final ReplayCache replay;

    private AssertionVerifier(Builder b) {
        this.keys = Objects.requireNonNull(b.keys, "keys (a JWKS file or a key set) are required");
        this.issuer = requireNonEmpty(b.issuer, "issuer");
        this.audience = requireNonEmpty(b.audience, "audience");
        this.headerName = requireNonEmpty(b.headerName, "header name");
        if (b.leewaySeconds < 0) {
            throw new IllegalArgumentException("leeway must not be negative");
        }
        this.leeway = b.leewaySeconds;
        this.clock = Objects.requireNonNull(b.clock, "clock");
        this.replay = new ReplayCache(b.replayCapacity);
    }

    private static String requireNonEmpty(String s, String what) {
        if (s == null || s.isEmpty()) {
            throw new IllegalArgumentException(what + " is required");
        }
        return s;
    }

    /** Starts a configuration. */
    public static Builder builder() {
        return new Builder();
    }

    /** The request header that carries the assertion. */
    public String headerName() {
        return headerName;
    }

    /** Configures an {@link AssertionVerifier}. */
    public static final class Builder {
        private Supplier<KeySet> keys;
        private String issuer;
        private String audience;
        private String headerName = DEFAULT_HEADER;
        private int leewaySeconds = DEFAULT_LEEWAY_SECONDS;
        private int replayCapacity = DEFAULT_REPLAY_CAPACITY;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** Keys from a JWKS file, reloaded when it changes. */
        public Builder jwksFile(java.nio.file.Path path) {
            this.keys = new JwksFile(path);
            return this;
        }

        /** Keys from a supplier (a fixed set, or {@link JwksFile}). */
        public Builder keys(Supplier<KeySet> keys) {
            this.keys = keys;
            return this;
        }

        /** The expected iss: the restguard deployment's configured name. */
        public Builder issuer(String issuer) {
            this.issuer = issuer;
            return this;
        }

        /** The expected aud: this product's base URL, exactly as restguard is configured with it. */
        public Builder audience(String audience) {
            this.audience = audience;
            return this;
        }

        /** The request header; default {@value AssertionVerifier#DEFAULT_HEADER}. */
        public Builder headerName(String headerName) {
            this.headerName = headerName;
            return this;
        }

        /** Clock skew allowed on iat and exp; default 5 seconds. */
        public Builder leewaySeconds(int leewaySeconds) {
            this.leewaySeconds = leewaySeconds;
            return this;
        }

        /** Replay cache capacity; default 100,000 jtis. */
        public Builder replayCapacity(int replayCapacity) {
            this.replayCapacity = replayCapacity;
            return this;
        }

        /** The time source (tests). */
        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** Builds the verifier; throws IllegalArgumentException when the configuration is incomplete. */
        public AssertionVerifier build() {
            return new AssertionVerifier(this);
        }
    }

    /**
     * Verifies an assertion against the request the product received.
     *
     * @param token the assertion header's value
     * @param method the request method ({@code getMethod()})
     * @param requestUri the raw path, context path included ({@code getRequestURI()})
     * @param queryString the raw query without '?', or null ({@code getQueryString()})
     * @return the claims; the jti is remembered
     * @throws AssertionException the first check that failed
     */
    public VerifiedAssertion verify(String token, String method, String requestUri, String queryString)
            throws AssertionException {
        // 1. Shape.
        if (token == null || token.length() > MAX_TOKEN_BYTES) {
            throw new AssertionException(Reason.MALFORMED, "too long");
        }
        int dot1 = token.indexOf('.');
        int dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
        if (dot1 < 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) >= 0) {
            throw new AssertionException(Reason.MALFORMED, "not three segments");
        }
        byte[] headerBytes = Base64Url.decode(token.substring(0, dot1));
        byte[] payloadBytes = Base64Url.decode(token.substring(dot1 + 1, dot2));
        byte[] sig = Base64Url.decode(token.substring(dot2 + 1));
        if (headerBytes == null || payloadBytes == null || sig == null) {
            throw new AssertionException(Reason.MALFORMED, "segment is not canonical base64url");
        }

        // 2. Header.
        Map<String, Object> header;
        try {
            header = StrictJson.parseObject(headerBytes);
        } catch (StrictJson.JsonException e) {
            throw new AssertionException(Reason.MALFORMED, "header is not a JSON object");
        }
        Object alg = header.get("alg");
        Object kid = header.get("kid");
        if (header.size() != 3 || !(kid instanceof String) || !TYPE.equals(header.get("typ"))
                || !("ES256".equals(alg) || "EdDSA".equals(alg))) {
            throw new AssertionException(Reason.BAD_HEADER, "header is not alg, kid and typ of the format");
        }

        // 3. Key.
        KeySet ks = keys.get();
        KeySet.Key key = ks == null ? null : ks.lookup((String) kid);
        if (key == null) {
            throw new AssertionException(Reason.UNKNOWN_KEY, "kid not in the key set");
        }
        if (!key.alg.equals(alg)) {
            throw new AssertionException(Reason.BAD_HEADER, "alg is not the one bound to the key type");
        }

        // 4. Signature over header.payload (ASCII, so chars are bytes).
        byte[] signed = token.substring(0, dot2).getBytes(StandardCharsets.US_ASCII);
        if (!signatureValid(key, signed, sig)) {
            throw new AssertionException(Reason.BAD_SIGNATURE);
        }

        // 5. Claims.
        Map<String, Object> m;
        try {
            m = StrictJson.parseObject(payloadBytes);
        } catch (StrictJson.JsonException e) {
            throw new AssertionException(Reason.MALFORMED, "claims are not a JSON object");
        }
        VerifiedAssertion c = decodeClaims(m);

        // 6. Who.
        if (!c.issuer().equals(issuer)) {
            throw new AssertionException(Reason.WRONG_ISSUER);
        }
        if (!c.audience().equals(audience)) {
            throw new AssertionException(Reason.WRONG_AUDIENCE);
        }
        if (c.subject().isEmpty()) {
            throw new AssertionException(Reason.NO_SUBJECT);
        }

        // 7. When.
        long now = clock.instant().getEpochSecond();
        if (c.issuedAt() > now + leeway) {
            throw new AssertionException(Reason.NOT_YET_VALID);
        }
        if (c.expiry() <= now - leeway) {
            throw new AssertionException(Reason.EXPIRED);
        }
        if (c.expiry() - c.issuedAt() > MAX_LIFETIME_SECONDS) {
            throw new AssertionException(Reason.LIFETIME_TOO_LONG);
        }

        // 8. Which request.
        if (!c.method().equals(method)) {
            throw new AssertionException(Reason.WRONG_METHOD);
        }
        String target = target(requestUri, queryString);
        if (target == null || !target.equals(c.target())) {
            throw new AssertionException(Reason.WRONG_TARGET);
        }

        // 9. Once.
        Reason r = replay.remember(c.id(), c.expiry() + leeway, now);
        if (r != null) {
            throw new AssertionException(r);
        }
        return c;
    }

    private static boolean signatureValid(KeySet.Key key, byte[] signed, byte[] sig) {
        try {
            Signature verifier;
            byte[] encoded;
            if (key.alg.equals("ES256")) {
                if (sig.length != 64) {
                    return false;
                }
                verifier = Signature.getInstance("SHA256withECDSA");
                encoded = rawToDer(sig);
            } else {
                if (sig.length != 64) {
                    return false;
                }
                verifier = Signature.getInstance("Ed25519");
                encoded = sig;
            }
            verifier.initVerify(key.publicKey);
            verifier.update(signed);
            return verifier.verify(encoded);
        } catch (GeneralSecurityException | RuntimeException e) {
            return false; // an out-of-range r or s, an undecodable point: not a valid signature
        }
    }

    /**
     * Converts a JWS ES256 signature (r || s, 32 bytes each, RFC 7518 §3.4) to the
     * ASN.1 DER ECDSA-Sig-Value the JDK's SHA256withECDSA expects.
     */
    static byte[] rawToDer(byte[] sig) {
        byte[] r = derInteger(sig, 0);
        byte[] s = derInteger(sig, 32);
        byte[] der = new byte[2 + r.length + s.length];
        der[0] = 0x30;
        der[1] = (byte) (r.length + s.length);
        System.arraycopy(r, 0, der, 2, r.length);
        System.arraycopy(s, 0, der, 2 + r.length, s.length);
        return der;
    }

    private static byte[] derInteger(byte[] sig, int off) {
        int start = off;
        while (start < off + 31 && sig[start] == 0) {
            start++;
        }
        int len = off + 32 - start;
        boolean pad = (sig[start] & 0x80) != 0;
        byte[] out = new byte[2 + (pad ? 1 : 0) + len];
        out[0] = 0x02;
        out[1] = (byte) (len + (pad ? 1 : 0));
        System.arraycopy(sig, start, out, pad ? 3 : 2, len);
        return out;
    }

    private static VerifiedAssertion decodeClaims(Map<String, Object> m) throws AssertionException {
        String iss = string(m, "iss", true);
        String aud = string(m, "aud", true);
        String sub = string(m, "sub", false);
        String email = string(m, "email", false);
        String jti = string(m, "jti", true);
        String htm = string(m, "htm", true);
        String rth = string(m, "rth", true);
        long iat = StrictJson.integer(m.get("iat"));
        if (iat < 0) {
            throw new AssertionException(Reason.MALFORMED, "iat is not a non-negative integer");
        }
        long exp = StrictJson.integer(m.get("exp"));
        if (exp < 0) {
            throw new AssertionException(Reason.MALFORMED, "exp is not a non-negative integer");
        }
        if (exp <= iat) {
            throw new AssertionException(Reason.MALFORMED, "exp is not after iat");
        }
        byte[] id = Base64Url.decode(jti);
        if (id == null || id.length != 16) {
            throw new AssertionException(Reason.MALFORMED, "jti is not 16 bytes of base64url");
        }
        List<String> groups = null;
        if (m.containsKey("groups")) {
            Object g = m.get("groups");
            if (!(g instanceof List)) {
                throw new AssertionException(Reason.MALFORMED, "groups is not an array");
            }
            groups = new ArrayList<>();
            for (Object e : (List<?>) g) {
                if (!(e instanceof String)) {
                    throw new AssertionException(Reason.MALFORMED, "groups holds a non-string");
                }
                groups.add((String) e);
            }
        }
        return new VerifiedAssertion(iss, aud, sub == null ? "" : sub, groups, email, iat, exp, jti, htm, rth);
    }

    /**
     * The claim as a string; null when absent and optional. The order of the checks
     * matches the Go verifier's so that several wrong types give the same detail.
     */
    private static String string(Map<String, Object> m, String name, boolean required) throws AssertionException {
        if (!m.containsKey(name)) {
            if (required) {
                throw new AssertionException(Reason.MALFORMED, name + " is not a string");
            }
            return null;
        }
        Object v = m.get(name);
        if (!(v instanceof String)) {
            throw new AssertionException(Reason.MALFORMED, name + " is not a string");
        }
        return (String) v;
    }

    /**
     * The request binding: base64url (no padding) of SHA-256 over the path normalised
     * by {@link TomcatPath}, followed by '?' and the raw query when it is not empty;
     * null when the path cannot be normalised. The path is taken as UTF-8 bytes;
     * Tomcat hands over the request-target undecoded, so it is ASCII in practice.
     */
    public static String target(String requestUri, String queryString) {
        if (requestUri == null) {
            return null;
        }
        byte[] clean;
        try {
            clean = TomcatPath.normalize(requestUri.getBytes(StandardCharsets.UTF_8)).cleanNoCopy();
        } catch (TomcatPath.PathException e) {
            return null;
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(clean);
            if (queryString != null && !queryString.isEmpty()) {
                sha.update((byte) '?');
                sha.update(queryString.getBytes(StandardCharsets.UTF_8));
            }
            return Base64Url.encode(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
