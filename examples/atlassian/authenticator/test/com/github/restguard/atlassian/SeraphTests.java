package com.github.restguard.atlassian;

import static com.github.restguard.atlassian.TestMain.check;
import static com.github.restguard.atlassian.TestMain.equal;

import com.atlassian.confluence.user.ConfluenceUser;
import com.atlassian.seraph.auth.Authenticator;
import com.atlassian.seraph.auth.DefaultAuthenticator;
import com.github.restguard.atlassian.bamboo.RestguardBambooAuthenticator;
import com.github.restguard.atlassian.confluence.RestguardConfluenceAuthenticator;
import com.github.restguard.atlassian.jira.RestguardJiraAuthenticator;
import com.github.restguard.atlassian.seraph.SeraphAssertionSupport;
import java.security.Principal;
import java.util.HashMap;
import java.util.List;
import java.util.function.BiFunction;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/**
 * The Jira, Confluence and Bamboo authenticators, each over its product's shim class,
 * with the product's user lookup, password check and authorisation faked by a
 * {@link Fakes.Directory}.
 */
final class SeraphTests {
    private SeraphTests() {}

    /** Builds an authenticator over a directory; a null verifier means "configure from init-params". */
    private static final class Product {
        final String name;
        final BiFunction<Fakes.Directory, AssertionVerifier, Authenticator> make;

        Product(String name, BiFunction<Fakes.Directory, AssertionVerifier, Authenticator> make) {
            this.name = name;
            this.make = make;
        }
    }

    private static Authenticator configure(Authenticator a, AssertionVerifier v) {
        if (v != null) {
            if (a instanceof RestguardJiraAuthenticator) {
                ((RestguardJiraAuthenticator) a).useVerifier(v);
            } else if (a instanceof RestguardConfluenceAuthenticator) {
                ((RestguardConfluenceAuthenticator) a).useVerifier(v);
            } else {
                ((RestguardBambooAuthenticator) a).useVerifier(v);
            }
        } else {
            a.init(new HashMap<>(), null); // no settings anywhere: not configured
        }
        return a;
    }

    @SuppressWarnings("serial")
    private static final List<Product> PRODUCTS = List.of(
            new Product("jira", (d, v) -> configure(new RestguardJiraAuthenticator() {
                @Override
                protected Principal getUser(String username) {
                    return d.lookUp(username);
                }

                @Override
                protected boolean authenticate(Principal user, String password) {
                    return d.passwordOk(user, password);
                }

                @Override
                protected boolean authoriseUserAndEstablishSession(HttpServletRequest rq, HttpServletResponse rs, Principal p) {
                    return d.authorised(p) && super.authoriseUserAndEstablishSession(rq, rs, p);
                }
            }, v)),
            new Product("confluence", (d, v) -> configure(new RestguardConfluenceAuthenticator() {
                @Override
                protected ConfluenceUser getUser(String uid) {
                    return d.lookUp(uid);
                }

                @Override
                protected boolean authenticate(Principal user, String password) {
                    return d.passwordOk(user, password);
                }

                @Override
                protected boolean authoriseUserAndEstablishSession(HttpServletRequest rq, HttpServletResponse rs, Principal p) {
                    return d.authorised(p) && super.authoriseUserAndEstablishSession(rq, rs, p);
                }
            }, v)),
            new Product("bamboo", (d, v) -> configure(new RestguardBambooAuthenticator() {
                @Override
                protected Principal getUser(String uid) {
                    return d.lookUp(uid);
                }

                @Override
                protected boolean authenticate(Principal user, String password) {
                    return d.passwordOk(user, password);
                }

                @Override
                protected boolean authoriseUserAndEstablishSession(HttpServletRequest rq, HttpServletResponse rs, Principal p) {
                    return d.authorised(p) && super.authoriseUserAndEstablishSession(rq, rs, p);
                }
            }, v)));

    static void run(TestMain t, Vectors vs) {
        for (Product p : PRODUCTS) {
            run(t, vs, p);
        }
    }

    private static Fakes.Directory directory() {
        return new Fakes.Directory().add("alice", "alice-pw").add("bob", "bob-pw");
    }

    /** A session in which the product's normal login put bob. */
    private static Fakes.Session bobSession(Fakes.Directory d) {
        Fakes.Session s = new Fakes.Session();
        s.setAttribute(DefaultAuthenticator.LOGGED_IN_KEY, d.users.get("bob"));
        return s;
    }

    private static void run(TestMain t, Vectors vs, Product p) {
        String n = p.name + ": ";

        t.test(n + "a valid assertion yields the product's own user, once per request", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Fakes.Request rq = Fakes.Request.of(vs.get("valid ES256"));
            Fakes.Response rs = new Fakes.Response();
            Principal user = a.getUser(rq, rs);
            check(user == d.users.get("alice"), "user = " + user + ", want the directory's alice");
            equal(d.lookups, List.of("alice"), "lookups through the product");
            equal(rs.error, 0, "response status");
            equal(rq.session.getAttribute(DefaultAuthenticator.LOGGED_IN_KEY), user, "session user");
            equal(rq.session.getAttribute(SeraphAssertionSupport.SESSION_ATTRIBUTE), "alice", "session marked");
            // Seraph asks again while serving the same request: no second verification (no "replayed").
            check(a.getUser(rq, rs) == user, "second call in the same request");
            equal(rs.error, 0, "response status after the second call");
        });

        for (String[] refused : new String[][] {
            {"expired", "expired"},
            {"tampered payload", "bad_signature"},
            {"alg none", "bad_header"},
            {"unknown kid: signed by an unpublished key", "unknown_key"},
            {"wrong audience: minted for another product", "wrong_audience"},
        }) {
            t.test(n + "refused without fallback: " + refused[0], () -> {
                Fakes.Directory d = directory();
                Authenticator a = p.make.apply(d, vs.verifier());
                Vectors.Vector v = vs.get(refused[0]);
                expectRefused(a, d, Fakes.Request.of(v), refused[1]);
            });
        }

        t.test(n + "refused without fallback: assertion for another endpoint", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Vectors.Vector v = vs.get("valid EdDSA");
            Fakes.Request rq = new Fakes.Request("GET", "/rest/api/2/user", "username=admin")
                    .header(AssertionVerifier.DEFAULT_HEADER, v.assertion);
            expectRefused(a, d, rq, "wrong_target");
        });

        t.test(n + "refused without fallback: another method", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Vectors.Vector v = vs.get("valid EdDSA");
            Fakes.Request rq = new Fakes.Request("DELETE", v.path, null).header(AssertionVerifier.DEFAULT_HEADER, v.assertion);
            expectRefused(a, d, rq, "wrong_method");
        });

        t.test(n + "replayed assertion refused without fallback", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Vectors.Vector v = vs.get("valid ES256");
            check(a.getUser(Fakes.Request.of(v), new Fakes.Response()) != null, "first use");
            expectRefused(a, d, Fakes.Request.of(v), "replayed");
        });

        t.test(n + "two assertion headers refused", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Vectors.Vector v = vs.get("valid ES256");
            expectRefused(a, d, Fakes.Request.of(v).header(AssertionVerifier.DEFAULT_HEADER, v.assertion), "malformed");
        });

        t.test(n + "a valid assertion for a user the product does not know is refused", () -> {
            Fakes.Directory d = new Fakes.Directory().add("bob", "bob-pw");
            Authenticator a = p.make.apply(d, vs.verifier());
            expectRefused(a, d, Fakes.Request.of(vs.get("valid ES256")), SeraphAssertionSupport.UNKNOWN_USER);
        });

        t.test(n + "a valid assertion for a user the product does not authorise is refused", () -> {
            Fakes.Directory d = directory();
            d.unauthorised.add("alice");
            Authenticator a = p.make.apply(d, vs.verifier());
            expectRefused(a, d, Fakes.Request.of(vs.get("valid ES256")), SeraphAssertionSupport.NOT_AUTHORISED);
        });

        t.test(n + "without an assertion the product's session login applies", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Fakes.Request rq = new Fakes.Request("GET", "/secure/Dashboard.jspa", null).session(bobSession(d));
            Fakes.Response rs = new Fakes.Response();
            check(a.getUser(rq, rs) == d.users.get("bob"), "session user");
            equal(rs.error, 0, "response status");
        });

        t.test(n + "without an assertion the product's Basic login applies", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Fakes.Request rq = new Fakes.Request("GET", "/rest/api/2/myself", null).basic("bob", "bob-pw");
            check(a.getUser(rq, new Fakes.Response()) == d.users.get("bob"), "Basic user");
            Fakes.Request wrong = new Fakes.Request("GET", "/rest/api/2/myself", null).basic("bob", "nope");
            check(a.getUser(wrong, new Fakes.Response()) == null, "wrong password");
        });

        t.test(n + "the X-Forwarded-User header alone is never trusted", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Fakes.Request rq = new Fakes.Request("GET", "/rest/api/2/myself", null).header("X-Forwarded-User", "alice");
            check(a.getUser(rq, new Fakes.Response()) == null, "anonymous expected");
        });

        t.test(n + "a session an assertion started does not authenticate a request without one", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, vs.verifier());
            Fakes.Request first = Fakes.Request.of(vs.get("valid ES256"));
            check(a.getUser(first, new Fakes.Response()) != null, "assertion login");
            Fakes.Session stolen = first.session;
            Fakes.Request replayCookie = new Fakes.Request("GET", "/rest/api/2/myself", null).session(stolen);
            check(a.getUser(replayCookie, new Fakes.Response()) == null, "the assertion's session authenticated alone");
            check(stolen.invalidated, "the assertion's session was not ended");
            // The product's own authentication still runs afterwards.
            Fakes.Request withBasic = new Fakes.Request("GET", "/rest/api/2/myself", null).session(stolen).basic("bob", "bob-pw");
            check(a.getUser(withBasic, new Fakes.Response()) == d.users.get("bob"), "Basic after the session ended");
        });

        t.test(n + "unconfigured: assertions refused, normal logins unchanged", () -> {
            Fakes.Directory d = directory();
            Authenticator a = p.make.apply(d, null);
            expectRefused(a, d, Fakes.Request.of(vs.get("valid ES256")), RequestAssertion.NOT_CONFIGURED);
            Fakes.Request rq = new Fakes.Request("GET", "/", null).session(bobSession(d));
            check(a.getUser(rq, new Fakes.Response()) == d.users.get("bob"), "session login");
        });
    }

    /**
     * The request, carrying a refused assertion, also carries bob's session, bob's Basic
     * credentials and X-Forwarded-User: none of them may authenticate it.
     */
    private static void expectRefused(Authenticator a, Fakes.Directory d, Fakes.Request rq, String reason) {
        rq.session(bobSession(d)).basic("bob", "bob-pw").header("X-Forwarded-User", "alice");
        Fakes.Response rs = new Fakes.Response();
        Principal user = a.getUser(rq, rs);
        check(user == null, "user = " + user + ", want none");
        equal(rs.error, 401, "status");
        equal(rs.headers.get(RequestAssertion.REFUSED_HEADER), reason, "refusal reason");
        check(a.getUser(rq, rs) == null, "second call in the same request");
        equal(rs.errorsSent, 1, "errors sent");
    }
}
