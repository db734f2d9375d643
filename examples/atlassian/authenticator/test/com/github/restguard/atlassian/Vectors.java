package com.github.restguard.atlassian;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The shared test vectors (written by the Go generator), parsed with StrictJson. */
final class Vectors {
    static final class Vector {
        final String name;
        final String assertion;
        final String method;
        final String path;
        final String query;
        final String want;
        final String subject;

        Vector(Map<?, ?> m) {
            name = (String) m.get("name");
            assertion = (String) m.get("assertion");
            method = (String) m.get("method");
            path = (String) m.get("path");
            query = (String) m.get("query");
            want = (String) m.get("want");
            subject = (String) m.get("subject");
        }
    }

    final String issuer;
    final String audience;
    final int leeway;
    final long now;
    final Map<?, ?> jwks;
    final List<Vector> vectors = new ArrayList<>();
    final Map<String, Vector> byName = new LinkedHashMap<>();
    final List<Map<?, ?>> paths = new ArrayList<>();
    final List<Map<?, ?>> targets = new ArrayList<>();

    private Vectors(Map<String, Object> doc) {
        issuer = (String) doc.get("issuer");
        audience = (String) doc.get("audience");
        leeway = (int) StrictJson.integer(doc.get("leeway_seconds"));
        now = StrictJson.integer(doc.get("now"));
        jwks = (Map<?, ?>) doc.get("jwks");
        for (Object o : (List<?>) doc.get("vectors")) {
            Vector v = new Vector((Map<?, ?>) o);
            vectors.add(v);
            byName.put(v.name, v);
        }
        for (Object o : (List<?>) doc.get("paths")) {
            paths.add((Map<?, ?>) o);
        }
        for (Object o : (List<?>) doc.get("targets")) {
            targets.add((Map<?, ?>) o);
        }
    }

    static Vectors load(byte[] data) throws StrictJson.JsonException {
        return new Vectors(StrictJson.parseObject(data));
    }

    Vector get(String name) {
        Vector v = byName.get(name);
        if (v == null) {
            throw new IllegalArgumentException("no vector named " + name);
        }
        return v;
    }

    Clock clock() {
        return Clock.fixed(Instant.ofEpochSecond(now), ZoneOffset.UTC);
    }

    /** The vectors' key set, as a JWKS document. */
    byte[] jwksBytes() {
        return Json.write(jwks).getBytes(StandardCharsets.UTF_8);
    }

    KeySet keySet() throws KeySet.KeySetException {
        return KeySet.parse(jwksBytes());
    }

    /** A verifier configured as the vectors say, with a fresh replay cache. */
    AssertionVerifier verifier() throws KeySet.KeySetException {
        KeySet ks = keySet();
        return AssertionVerifier.builder().keys(() -> ks).issuer(issuer).audience(audience)
                .leewaySeconds(leeway).clock(clock()).build();
    }

    /** Writes bytes to path by rename, as restguard writes its JWKS file. */
    static void writeAtomically(Path path, byte[] data) throws java.io.IOException {
        Path tmp = Files.createTempFile(path.getParent(), ".jwks", ".tmp");
        Files.write(tmp, data);
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** A minimal JSON writer for test documents. */
    static final class Json {
        private Json() {}

        static String write(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v);
            return b.toString();
        }

        private static void write(StringBuilder b, Object v) {
            if (v == null) {
                b.append("null");
            } else if (v instanceof String) {
                b.append('"');
                for (char c : ((String) v).toCharArray()) {
                    if (c == '"' || c == '\\') {
                        b.append('\\').append(c);
                    } else if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
                b.append('"');
            } else if (v instanceof Map) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    write(b, e.getKey());
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            } else if (v instanceof List) {
                b.append('[');
                boolean first = true;
                for (Object e : (List<?>) v) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    write(b, e);
                }
                b.append(']');
            } else {
                b.append(v); // Boolean, StrictJson.Number
            }
        }
    }
}
