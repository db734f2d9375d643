package com.github.restguard.atlassian;

import java.util.Base64;

/**
 * Canonical unpadded base64url (RFC 4648 §5), with the Go verifier's rule: only
 * the 64 alphabet characters (no '=', no whitespace), and the only encoding of
 * its bytes (unused trailing bits zero), checked by re-encoding.
 */
final class Base64Url {
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

    private Base64Url() {}

    /** Decodes s, or returns null when it is not canonical unpadded base64url. */
    static byte[] decode(String s) {
        if (s.length() % 4 == 1) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
                return null;
            }
        }
        byte[] out;
        try {
            out = DECODER.decode(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
        return ENCODER.encodeToString(out).equals(s) ? out : null;
    }

    static String encode(byte[] b) {
        return ENCODER.encodeToString(b);
    }
}
