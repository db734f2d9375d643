package com.github.restguard.atlassian;

import static com.github.restguard.atlassian.TestMain.check;
import static com.github.restguard.atlassian.TestMain.equal;

import com.atlassian.bitbucket.auth.AuthenticationException;
import com.atlassian.bitbucket.auth.AuthenticationResult;
import com.atlassian.bitbucket.auth.HttpAuthenticationContext;
import com.atlassian.bitbucket.user.UserService;
import com.github.restguard.atlassian.bitbucket.RestguardBitbucketAuthenticationHandler;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/** The Bitbucket http-auth-handler over the SPI shim, with UserService faked. */
final class BitbucketTests {
    private BitbucketTests() {}

    private static final class Context implements HttpAuthenticationContext {
        final Fakes.Request request;
        final Fakes.Response response = new Fakes.Response();

        Context(Fakes.Request request) {
            this.request = request;
        }

        @Override
        public HttpServletRequest getRequest() {
            return request;
        }

        @Override
        public HttpServletResponse getResponse() {
            return response;
        }
    }

    private static UserService users(Fakes.Directory d) {
        return d::lookUp;
    }

    private static Fakes.Directory directory() {
        return new Fakes.Directory().add("alice", "alice-pw").add("bob", "bob-pw");
    }

    /** perform or validate must refuse ctx with reason, without echoing the assertion. */
    private static void expectRefused(Runnable call, Context ctx, String reason, String assertion) {
        try {
            call.run();
            throw new AssertionError("accepted, want refusal " + reason);
        } catch (AuthenticationException e) {
            check(e.getMessage().endsWith(reason), "message " + e.getMessage() + ", want reason " + reason);
            check(assertion == null || !e.getMessage().contains(assertion), "message echoes the assertion");
            equal(ctx.response.headers.get(RequestAssertion.REFUSED_HEADER), reason, "refusal header");
        }
    }

    static void run(TestMain t, Vectors vs) {
        t.test("bitbucket: a valid assertion yields the UserService's user", () -> {
            Fakes.Directory d = directory();
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(d), vs.verifier());
            Context ctx = new Context(Fakes.Request.of(vs.get("valid ES256")));
            AuthenticationResult r = h.performAuthentication(ctx);
            check(r != null && r.getUser() == d.users.get("alice"), "result user");
            equal(ctx.request.session.getAttribute(RestguardBitbucketAuthenticationHandler.SESSION_ATTRIBUTE), "alice", "session mark");
            // Bitbucket then validates the same request: one verification only.
            h.validateAuthentication(ctx);
        });

        t.test("bitbucket: no assertion, null: the other handlers decide", () -> {
            Fakes.Directory d = directory();
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(d), vs.verifier());
            Context ctx = new Context(new Fakes.Request("GET", "/rest/api/1.0/projects", null).basic("bob", "bob-pw")
                    .header("X-Forwarded-User", "alice"));
            check(h.performAuthentication(ctx) == null, "result");
            equal(d.lookups.size(), 0, "lookups");
        });

        for (String[] refused : new String[][] {
            {"expired", "expired"},
            {"tampered signature", "bad_signature"},
            {"alg swapped to EdDSA on an EC key", "bad_header"},
            {"lifetime 61 s", "lifetime_too_long"},
        }) {
            t.test("bitbucket: refused by exception, not deferred: " + refused[0], () -> {
                RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(directory()), vs.verifier());
                Vectors.Vector v = vs.get(refused[0]);
                Context ctx = new Context(Fakes.Request.of(v).basic("bob", "bob-pw"));
                expectRefused(() -> h.performAuthentication(ctx), ctx, refused[1], v.assertion);
            });
        }

        t.test("bitbucket: replayed assertion refused", () -> {
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(directory()), vs.verifier());
            Vectors.Vector v = vs.get("valid EdDSA");
            check(h.performAuthentication(new Context(Fakes.Request.of(v))) != null, "first use");
            Context again = new Context(Fakes.Request.of(v));
            expectRefused(() -> h.performAuthentication(again), again, "replayed", v.assertion);
        });

        t.test("bitbucket: unknown or disabled user refused", () -> {
            Fakes.Directory d = new Fakes.Directory().add("bob", "bob-pw");
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(d), vs.verifier());
            Context ctx = new Context(Fakes.Request.of(vs.get("valid ES256")));
            expectRefused(() -> h.performAuthentication(ctx), ctx, RestguardBitbucketAuthenticationHandler.UNKNOWN_USER, null);

            Fakes.Directory disabled = directory();
            disabled.users.get("alice").active = false;
            RestguardBitbucketAuthenticationHandler h2 = new RestguardBitbucketAuthenticationHandler(users(disabled), vs.verifier());
            Context ctx2 = new Context(Fakes.Request.of(vs.get("valid EdDSA")));
            expectRefused(() -> h2.performAuthentication(ctx2), ctx2, RestguardBitbucketAuthenticationHandler.UNKNOWN_USER, null);
        });

        t.test("bitbucket: an assertion's session is not valid without an assertion", () -> {
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(directory()), vs.verifier());
            Context login = new Context(Fakes.Request.of(vs.get("valid ES256")));
            check(h.performAuthentication(login) != null, "assertion login");
            Context later = new Context(new Fakes.Request("GET", "/rest/api/1.0/projects", null).session(login.request.session));
            expectRefused(() -> h.validateAuthentication(later), later, "session_without_assertion", null);
        });

        t.test("bitbucket: an assertion's session is valid again with a fresh assertion for its user", () -> {
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(directory()), vs.verifier());
            Context login = new Context(Fakes.Request.of(vs.get("valid ES256")));
            check(h.performAuthentication(login) != null, "assertion login");
            Context next = new Context(Fakes.Request.of(vs.get("valid EdDSA")).session(login.request.session));
            h.validateAuthentication(next);
        });

        t.test("bitbucket: an assertion never rides on another login's session", () -> {
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(directory()), vs.verifier());
            Fakes.Session uiSession = new Fakes.Session(); // bob's UI login, not ours
            Context ctx = new Context(Fakes.Request.of(vs.get("valid ES256")).session(uiSession));
            expectRefused(() -> h.validateAuthentication(ctx), ctx, "session_user_differs", null);

            Context bad = new Context(Fakes.Request.of(vs.get("expired")).session(uiSession));
            expectRefused(() -> h.validateAuthentication(bad), bad, "expired", null);

            Context plain = new Context(new Fakes.Request("GET", "/projects", null).session(uiSession));
            h.validateAuthentication(plain); // no assertion on another login's session: not ours to judge
        });

        t.test("bitbucket: unconfigured handler refuses assertions, defers otherwise", () -> {
            RestguardBitbucketAuthenticationHandler h = new RestguardBitbucketAuthenticationHandler(users(directory()), null);
            Context ctx = new Context(Fakes.Request.of(vs.get("valid ES256")));
            expectRefused(() -> h.performAuthentication(ctx), ctx, RequestAssertion.NOT_CONFIGURED, null);
            check(h.performAuthentication(new Context(new Fakes.Request("GET", "/", null))) == null, "no assertion");
        });
    }
}
