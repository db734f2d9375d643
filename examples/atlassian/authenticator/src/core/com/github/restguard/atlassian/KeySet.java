package com.github.restguard.atlassian;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * restguard's published public keys, parsed from a JWKS document (RFC 7517) with
 * the same strict rules as the Go {@code assertion.ParseKeySet}: an object with a
 * "keys" array of EC P-256 or OKP Ed25519 public keys, each with a kid equal to its
 * RFC 7638 thumbprint and, when present, "alg" bound to the key type and "use"
 * "sig". Private key material, another key type or curve, a duplicate kid or an
 * invalid point fails the whole document. Immutable and thread-safe.
 */
public final class KeySet {
    /** Largest JWKS document accepted. */
    public static final int MAX_BYTES = 64 << 10;

    /** A published key and the algorithm bound to it. */
    static final class Key {
        final String kid;
        final String alg; // "ES256" or "EdDSA"
        final PublicKey publicKey;

        Key(String kid, String alg, PublicKey publicKey) {
            this.kid = kid;
            this.alg = alg;
            this.publicKey = publicKey;
        }
    }

    /** The key set is not acceptable; the message names the problem, never key bytes. */
    public static final class KeySetException extends Exception {
        private static final long serialVersionUID = 1L;

        KeySetException(String message) {
            super(message);
        }
    }

    /** The empty key set: every assertion is refused as unknown_key. */
    public static final KeySet EMPTY = new KeySet(Map.of());

    // SubjectPublicKeyInfo prefixes (RFC 5480 for P-256 uncompressed points, RFC 8410
    // for Ed25519), so the JDK's X509EncodedKeySpec can import the raw JWK coordinates.
    private static final byte[] P256_SPKI_PREFIX = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    private static final byte[] ED25519_SPKI_PREFIX = hex("302a300506032b6570032100");

    // P-256 domain parameters (SEC 2 / FIPS 186-4), for the on-curve check.
    private static final BigInteger P = new BigInteger("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", 16);
    private static final BigInteger B = new BigInteger("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b", 16);

    private final Map<String, Key> keys;

    private KeySet(Map<String, Key> keys) {
        this.keys = keys;
    }

    /** The kids in the set, in document order. */
    public List<String> keyIds() {
        return Collections.unmodifiableList(new ArrayList<>(keys.keySet()));
    }

    Key lookup(String kid) {
        return keys.get(kid);
    }

    /** Parses a JWKS document. */
    public static KeySet parse(byte[] data) throws KeySetException {
        if (data.length > MAX_BYTES) {
            throw new KeySetException("key set larger than " + MAX_BYTES + " bytes");
        }
        Map<String, Object> doc;
        try {
            doc = StrictJson.parseObject(data);
        } catch (StrictJson.JsonException e) {
            throw new KeySetException("key set is not a JSON object");
        }
        Object arr = doc.get("keys");
        if (!(arr instanceof List)) {
            throw new KeySetException("key set has no \"keys\" array");
        }
        Map<String, Key> keys = new LinkedHashMap<>();
        int n = 0;
        for (Object v : (List<?>) arr) {
            Key k;
            try {
                k = parseJwk(v);
            } catch (KeySetException e) {
                throw new KeySetException("keys[" + n + "]: " + e.getMessage());
            }
            if (keys.containsKey(k.kid)) {
                throw new KeySetException("keys[" + n + "]: duplicate kid");
            }
            keys.put(k.kid, k);
            n++;
        }
        return new KeySet(Collections.unmodifiableMap(keys));
    }

    private static Key parseJwk(Object v) throws KeySetException {
        if (!(v instanceof Map)) {
            throw new KeySetException("not an object");
        }
        Map<?, ?> m = (Map<?, ?>) v;
        if (m.containsKey("d")) {
            throw new KeySetException("holds private key material");
        }
        Object kty = m.get("kty");
        Object crv = m.get("crv");
        if (!(m.get("kid") instanceof String)) {
            throw new KeySetException("no kid");
        }
        String kid = (String) m.get("kid");
        Key key;
        if ("EC".equals(kty) && "P-256".equals(crv)) {
            byte[] x = coordinate(m.get("x"), 32);
            byte[] y = coordinate(m.get("y"), 32);
            if (x == null || y == null) {
                throw new KeySetException("invalid EC coordinates");
            }
            if (!onP256(x, y)) {
                throw new KeySetException("EC point is not on P-256");
            }
            String thumbprint = thumbprint("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + Base64Url.encode(x)
                    + "\",\"y\":\"" + Base64Url.encode(y) + "\"}");
            key = new Key(thumbprint, "ES256", publicKey("EC", concat(P256_SPKI_PREFIX, new byte[] {4}, x, y)));
        } else if ("OKP".equals(kty) && "Ed25519".equals(crv)) {
            byte[] x = coordinate(m.get("x"), 32);
            if (x == null) {
                throw new KeySetException("invalid Ed25519 x");
            }
            String thumbprint = thumbprint("{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"" + Base64Url.encode(x) + "\"}");
            key = new Key(thumbprint, "EdDSA", publicKey("Ed25519", concat(ED25519_SPKI_PREFIX, x)));
        } else {
            throw new KeySetException("not an EC P-256 or OKP Ed25519 key");
        }
        if (!kid.equals(key.kid)) {
            throw new KeySetException("kid is not the key's RFC 7638 thumbprint");
        }
        if (m.containsKey("alg") && !key.alg.equals(m.get("alg"))) {
            throw new KeySetException("alg does not match the key type");
        }
        if (m.containsKey("use") && !"sig".equals(m.get("use"))) {
            throw new KeySetException("use is not \"sig\"");
        }
        return key;
    }

    private static byte[] coordinate(Object v, int size) {
        if (!(v instanceof String)) {
            return null;
        }
        byte[] b = Base64Url.decode((String) v);
        return b != null && b.length == size ? b : null;
    }

    /** y² = x³ - 3x + b (mod p), with x and y below p. */
    private static boolean onP256(byte[] xb, byte[] yb) {
        BigInteger x = new BigInteger(1, xb);
        BigInteger y = new BigInteger(1, yb);
        if (x.compareTo(P) >= 0 || y.compareTo(P) >= 0) {
            return false;
        }
        BigInteger lhs = y.multiply(y).mod(P);
        BigInteger rhs = x.pow(3).subtract(x.multiply(BigInteger.valueOf(3))).add(B).mod(P);
        return lhs.equals(rhs);
    }

    /** RFC 7638: base64url of SHA-256 over the canonical JSON of the required members. */
    static String thumbprint(String canonicalJson) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return Base64Url.encode(sha.digest(canonicalJson.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static PublicKey publicKey(String algorithm, byte[] spki) throws KeySetException {
        try {
            return KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(spki));
        } catch (GeneralSecurityException e) {
            throw new KeySetException("the JDK refuses the " + algorithm + " key");
        }
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    private static byte[] hex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }
}
