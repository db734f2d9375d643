package com.github.restguard.atlassian;

import static com.github.restguard.atlassian.TestMain.check;
import static com.github.restguard.atlassian.TestMain.equal;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The verifier's parts: strict JSON, base64url, the key set, the JWKS file, the replay cache. */
final class CoreTests {
    private CoreTests() {}

    static void run(TestMain t, Vectors vs) {
        t.test("strict JSON: the Go parser's accept and reject cases", () -> {
            String[][] cases = {
                {"{}", "ok"},
                {" {\"a\":1} ", "ok"},
                {"{\"a\":[1, -0, 0.5, 1e3, 1E-3, -2.5e+10, true, false, null, \"\", {}]}", "ok"},
                {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\tx\\u00e9\\uD83D\\uDE00\"}", "ok"},
                {"{\"a\":{\"a\":1},\"b\":{\"a\":2}}", "ok"},
                {"{\"a\":1,\"a\":1}", "duplicate"},
                {"{\"a\":1,\"\\u0061\":2}", "duplicate after unescaping"},
                {"[]", "not an object"},
                {"", "empty"},
                {"{\"a\":1,}", "trailing comma"},
                {"{\"a\":01}", "leading zero"},
                {"{\"a\":1.}", "bare fraction"},
                {"{\"a\":+1}", "plus"},
                {"{\"a\":tru}", "bad literal"},
                {"{\"a\":1} x", "trailing garbage"},
                {"\ufeff{}", "byte order mark"},
                {"{\"a\":\"\u0001\"}", "raw control"},
                {"{\"a\":\"\\uD800\"}", "lone high surrogate"},
                {"{\"a\":\"\\uDC00\"}", "lone low surrogate"},
                {"{\"a\":\"\\uD800\\u0041\"}", "high then not low"},
                {"{\"a\":" + "[".repeat(15) + "]".repeat(15) + "}", "ok"},
                {"{\"a\":" + "[".repeat(16) + "]".repeat(16) + "}", "too deep"},
            };
            for (String[] c : cases) {
                boolean ok;
                try {
                    StrictJson.parseObject(c[0].getBytes(StandardCharsets.UTF_8));
                    ok = true;
                } catch (StrictJson.JsonException e) {
                    ok = false;
                }
                equal(ok, c[1].equals("ok"), "parse of " + c[0] + " (" + c[1] + ")");
            }
            boolean invalidUtf8Refused = false;
            try {
                StrictJson.parseObject(new byte[] {'{', '"', 'a', '"', ':', '"', (byte) 0xff, '"', '}'});
            } catch (StrictJson.JsonException e) {
                invalidUtf8Refused = true;
            }
            check(invalidUtf8Refused, "invalid UTF-8 accepted");
            equal(StrictJson.integer(new StrictJson.Number("9007199254740991")), 9007199254740991L, "2^53-1");
            equal(StrictJson.integer(new StrictJson.Number("9007199254740992")), -1L, "2^53");
            equal(StrictJson.integer(new StrictJson.Number("1.0")), -1L, "fraction");
            equal(StrictJson.integer(new StrictJson.Number("-1")), -1L, "negative");
        });

        t.test("base64url: canonical and unpadded only", () -> {
            String[] good = {"", "AA", "AAA", "AAAA", "_-8"};
            String[] bad = {"A", "AB", "AA==", "A+", "A/", "AA\n", "AA AA"};
            for (String s : good) {
                check(Base64Url.decode(s) != null, "refused " + s);
            }
            for (String s : bad) {
                check(Base64Url.decode(s) == null, "accepted " + s.replace("\n", "\\n"));
            }
        });

        t.test("ES256 raw signatures convert to minimal DER", () -> {
            byte[] sig = new byte[64];
            sig[31] = 1; // r = 1
            sig[32] = (byte) 0x80; // s has its top bit set: needs a 0 pad
            byte[] der = AssertionVerifier.rawToDer(sig);
            equal(der[0], (byte) 0x30, "SEQUENCE");
            equal(der[1], (byte) (3 + 35), "length");
            equal(der[2], (byte) 0x02, "INTEGER r");
            equal(der[3], (byte) 1, "r length");
            equal(der[4], (byte) 1, "r");
            equal(der[5], (byte) 0x02, "INTEGER s");
            equal(der[6], (byte) 33, "s length");
            equal(der[7], (byte) 0, "s pad");
        });

        t.test("key set: the vectors' JWKS parses to its two kids, thumbprints checked", () -> {
            KeySet ks = vs.keySet();
            equal(ks.keyIds().size(), 2, "kids");
            // RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
            equal(KeySet.thumbprint("{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"),
                    "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "RFC 8037 thumbprint");
        });

        t.test("key set: tampered or foreign keys refused", () -> {
            List<Map<String, Object>> keys = keysOf(vs);
            Map<String, Object> ec = keys.get(0);
            Map<String, Object> okp = keys.get(1);
            List<String> bad = new ArrayList<>();
            bad.add(doc(with(okp, "d", "AAAA")));
            bad.add(doc(with(ec, "kid", okp.get("kid"))));
            bad.add(doc(ec, ec));
            bad.add(doc(with(ec, "crv", "P-384")));
            bad.add(doc(with(ec, "alg", "EdDSA")));
            bad.add(doc(with(ec, "use", "enc")));
            bad.add(doc(with(ec, "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))); // off the curve
            bad.add(doc(with(okp, "x", "AAAA")));
            bad.add("{\"keys\":{}}");
            bad.add("{\"keys\":[],\"keys\":[]}");
            for (String d : bad) {
                boolean refused = false;
                try {
                    KeySet.parse(d.getBytes(StandardCharsets.UTF_8));
                } catch (KeySet.KeySetException e) {
                    refused = true;
                }
                check(refused, "accepted " + d);
            }
        });

        t.test("JWKS file: reloaded when rewritten, last good set kept on a bad or missing file", () -> {
            Path dir = Files.createTempDirectory("jwks");
            try {
                Path file = dir.resolve("restguard-jwks.json");
                List<Map<String, Object>> keys = keysOf(vs);
                Vectors.writeAtomically(file, doc(keys.get(1)).getBytes(StandardCharsets.UTF_8)); // Ed25519 only
                AssertionVerifier v = AssertionVerifier.builder().jwksFile(file).issuer(vs.issuer)
                        .audience(vs.audience).clock(vs.clock()).build();
                Vectors.Vector es = vs.get("valid ES256");
                expectReason(v, es, Reason.UNKNOWN_KEY);

                Vectors.writeAtomically(file, vs.jwksBytes()); // rotation publishes the EC key
                v.verify(es.assertion, es.method, es.path, es.query);

                Vectors.writeAtomically(file, "{\"keys\":".getBytes(StandardCharsets.UTF_8)); // broken write
                Vectors.Vector sec1 = vs.get("valid ES256, key loaded from SEC1 PEM");
                v.verify(sec1.assertion, sec1.method, sec1.path, sec1.query);

                Files.delete(file);
                Vectors.Vector ed = vs.get("valid EdDSA");
                v.verify(ed.assertion, ed.method, ed.path, ed.query);

                Vectors.writeAtomically(file, doc(keys.get(1)).getBytes(StandardCharsets.UTF_8)); // EC key retired
                Vectors.Vector post = vs.get("valid POST with a query");
                expectReason(v, post, Reason.UNKNOWN_KEY);
            } finally {
                try (var s = Files.list(dir)) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        Files.delete(p);
                    }
                }
                Files.delete(dir);
            }
        });

        t.test("JWKS file: none at start refuses everything (fail closed)", () -> {
            AssertionVerifier v = AssertionVerifier.builder().jwksFile(Path.of("/nonexistent/restguard-jwks.json"))
                    .issuer(vs.issuer).audience(vs.audience).clock(vs.clock()).build();
            expectReason(v, vs.get("valid ES256"), Reason.UNKNOWN_KEY);
        });

        t.test("replay cache: full of unexpired jtis, it refuses instead of forgetting", () -> {
            ReplayCache c = new ReplayCache(2);
            equal(c.remember("a", 100, 0), null, "a");
            equal(c.remember("b", 100, 0), null, "b");
            equal(c.remember("c", 100, 0), Reason.REPLAY_CACHE_FULL, "c while full");
            equal(c.remember("a", 100, 99), Reason.REPLAYED, "a before it expires");
            equal(c.remember("c", 200, 100), null, "c once a and b expired");
            equal(c.size(), 1, "entries after expiry");
        });

        t.test("verifier: incomplete configuration is refused at build time", () -> {
            String[] missing = {"issuer", "audience", "keys"};
            for (String m : missing) {
                AssertionVerifier.Builder b = AssertionVerifier.builder();
                if (!m.equals("issuer")) {
                    b.issuer("i");
                }
                if (!m.equals("audience")) {
                    b.audience("a");
                }
                if (!m.equals("keys")) {
                    b.keys(() -> KeySet.EMPTY);
                }
                boolean refused = false;
                try {
                    b.build();
                } catch (IllegalArgumentException | NullPointerException e) {
                    refused = true;
                }
                check(refused, "built without " + m);
            }
        });
    }

    static void expectReason(AssertionVerifier v, Vectors.Vector vec, Reason want) {
        try {
            v.verify(vec.assertion, vec.method, vec.path, vec.query);
            throw new AssertionError(vec.name + ": accepted, want " + want.code());
        } catch (AssertionException e) {
            equal(e.reason(), want, vec.name);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> keysOf(Vectors vs) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object k : (List<?>) vs.jwks.get("keys")) {
            out.add(new LinkedHashMap<>((Map<String, Object>) k));
        }
        return out;
    }

    static Map<String, Object> with(Map<String, Object> m, String key, Object value) {
        Map<String, Object> c = new LinkedHashMap<>(m);
        c.put(key, value);
        return c;
    }

    @SafeVarargs
    static String doc(Map<String, Object>... keys) {
        List<Object> list = new ArrayList<>();
        for (Map<String, Object> k : keys) {
            list.add(k);
        }
        return Vectors.Json.write(Map.of("keys", list));
    }
}
