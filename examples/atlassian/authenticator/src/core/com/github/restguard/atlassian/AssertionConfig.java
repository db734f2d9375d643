package com.github.restguard.atlassian;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Builds an {@link AssertionVerifier} from settings, each looked up in order in the
 * given parameters (Seraph's {@code <init-param>}s of the authenticator), then the
 * Java system properties, then the environment, where the name is upper-cased with
 * '.' as '_' ({@code restguard.assertion.jwks} → {@code RESTGUARD_ASSERTION_JWKS}):
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>name</th><th>meaning</th></tr>
 *   <tr><td>restguard.assertion.jwks</td><td>path of the JWKS file restguard writes (required)</td></tr>
 *   <tr><td>restguard.assertion.issuer</td><td>restguard's configured name, the iss (required)</td></tr>
 *   <tr><td>restguard.assertion.audience</td><td>this product's base URL, the aud (required)</td></tr>
 *   <tr><td>restguard.assertion.header</td><td>default X-Restguard-Assertion</td></tr>
 *   <tr><td>restguard.assertion.leeway</td><td>seconds of clock skew, default 5</td></tr>
 *   <tr><td>restguard.assertion.replay-capacity</td><td>default 100000</td></tr>
 * </table>
 */
public final class AssertionConfig {
    public static final String JWKS = "restguard.assertion.jwks";
    public static final String ISSUER = "restguard.assertion.issuer";
    public static final String AUDIENCE = "restguard.assertion.audience";
    public static final String HEADER = "restguard.assertion.header";
    public static final String LEEWAY = "restguard.assertion.leeway";
    public static final String REPLAY_CAPACITY = "restguard.assertion.replay-capacity";

    private AssertionConfig() {}

    /**
     * Builds a verifier; throws IllegalArgumentException naming the first missing or
     * invalid setting.
     */
    public static AssertionVerifier verifier(Map<String, String> params) {
        String jwks = setting(params, JWKS);
        if (jwks == null) {
            throw new IllegalArgumentException(JWKS + " is not set");
        }
        AssertionVerifier.Builder b = AssertionVerifier.builder()
                .jwksFile(Path.of(jwks))
                .issuer(setting(params, ISSUER))
                .audience(setting(params, AUDIENCE));
        String header = setting(params, HEADER);
        if (header != null) {
            b.headerName(header);
        }
        b.leewaySeconds(integer(params, LEEWAY, AssertionVerifier.DEFAULT_LEEWAY_SECONDS));
        b.replayCapacity(integer(params, REPLAY_CAPACITY, AssertionVerifier.DEFAULT_REPLAY_CAPACITY));
        return b.build();
    }

    /**
     * The header setting alone, or the default: what to look for even when the rest of
     * the configuration is unusable, so that such requests are refused, not ignored.
     */
    public static String headerName(Map<String, String> params) {
        String h = setting(params, HEADER);
        return h == null ? AssertionVerifier.DEFAULT_HEADER : h;
    }

    static String setting(Map<String, String> params, String name) {
        String v = params == null ? null : params.get(name);
        if (v == null || v.isBlank()) {
            v = System.getProperty(name);
        }
        if (v == null || v.isBlank()) {
            v = System.getenv(name.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
        }
        return v == null || v.isBlank() ? null : v.trim();
    }

    private static int integer(Map<String, String> params, String name, int dflt) {
        String v = setting(params, name);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " is not an integer");
        }
    }
}
