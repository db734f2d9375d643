package com.github.restguard.atlassian;

import static com.github.restguard.atlassian.TestMain.check;
import static com.github.restguard.atlassian.TestMain.equal;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/** The shared vectors: the Java verifier must reach the Go verifier's verdicts exactly. */
final class VectorTests {
    private VectorTests() {}

    static void run(TestMain t, Vectors vs) {
        t.test("vectors: every verdict matches the Go verifier's, in order, with one replay cache", () -> {
            AssertionVerifier v = vs.verifier();
            StringBuilder mismatches = new StringBuilder();
            for (Vectors.Vector vec : vs.vectors) {
                String verdict;
                String subject = null;
                try {
                    VerifiedAssertion a = v.verify(vec.assertion, vec.method, vec.path, vec.query);
                    verdict = "ok";
                    subject = a.subject();
                } catch (AssertionException e) {
                    verdict = e.reason().code();
                    check(!e.getMessage().contains(vec.assertion) || vec.assertion.length() < 8,
                            vec.name + ": the refusal echoes the assertion");
                }
                if (!verdict.equals(vec.want) || (subject != null && !subject.equals(vec.subject))) {
                    mismatches.append("\n  ").append(vec.name).append(": ").append(verdict)
                            .append(subject == null ? "" : " (" + subject + ")").append(", want ").append(vec.want);
                }
            }
            check(mismatches.length() == 0, "verdicts differ:" + mismatches);
            check(vs.vectors.size() >= 40, "expected the full vector set, got " + vs.vectors.size());
        });

        t.test("vectors: TomcatPath reproduces policy.NormalizePath on every committed path", () -> {
            StringBuilder mismatches = new StringBuilder();
            for (Map<?, ?> p : vs.paths) {
                String raw = (String) p.get("raw");
                boolean wantError = Boolean.TRUE.equals(p.get("error"));
                String got;
                try {
                    TomcatPath.Result r = TomcatPath.normalize(raw.getBytes(StandardCharsets.UTF_8));
                    got = new String(r.clean(), StandardCharsets.UTF_8) + " ambiguous=" + r.ambiguous();
                } catch (TomcatPath.PathException e) {
                    got = "error";
                }
                String want = wantError ? "error" : p.get("clean") + " ambiguous=" + p.get("ambiguous");
                if (!got.equals(want)) {
                    mismatches.append("\n  ").append(abbreviate(raw)).append(": ").append(abbreviate(got))
                            .append(", want ").append(abbreviate(want));
                }
            }
            check(mismatches.length() == 0, "paths differ:" + mismatches);
            check(vs.paths.size() >= 50, "expected the full path set");
        });

        t.test("vectors: request targets hash as Go's Target does", () -> {
            for (Map<?, ?> tv : vs.targets) {
                String method = (String) tv.get("method");
                String want = (String) tv.get("rth");
                if (want.isEmpty() && !isToken(method)) {
                    continue; // Go's Target also checks the method; the verifier compares htm instead
                }
                String got = AssertionVerifier.target((String) tv.get("path"), (String) tv.get("query"));
                equal(got == null ? "" : got, want, "target of " + tv.get("path") + "?" + tv.get("query"));
            }
        });
    }

    private static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (char c : s.toCharArray()) {
            if (!(Character.isLetterOrDigit(c) && c < 0x80) && "!#$%&'*+-.^_`|~".indexOf(c) < 0) {
                return false;
            }
        }
        return true;
    }

    private static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "...(" + s.length() + ")" : s;
    }
}
