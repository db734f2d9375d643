package com.github.restguard.atlassian.seraph;

import com.github.restguard.atlassian.AssertionConfig;
import com.github.restguard.atlassian.AssertionVerifier;
import com.github.restguard.atlassian.RequestAssertion;
import com.github.restguard.atlassian.VerifiedAssertion;
import java.security.Principal;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.servlet.http.HttpSession;

/**
 * The logic the Jira, Confluence and Bamboo authenticators share; each of them extends
 * its product's own Seraph authenticator and hands this class the product's user
 * lookup, session establishment and normal authentication.
 *
 * <ul>
 *   <li>With an assertion header: verify it (once per request), resolve the user with
 *       the product's lookup, authorise and establish the session as a Basic login
 *       would. On any failure the request gets no user: 401 with the reason, and
 *       neither the header alone, nor the session, nor Basic is consulted.</li>
 *   <li>Without one: the product's normal authentication, so the UI login keeps
 *       working; except that a session an assertion started is ended first, so it
 *       never authenticates a request that carries no assertion.</li>
 * </ul>
 */
public final class SeraphAssertionSupport {
    /** Session attribute marking a session an assertion established; its value is the username. */
    public static final String SESSION_ATTRIBUTE = "com.github.restguard.atlassian.assertion-session";
    /** Refusal code: the product has no such user. */
    public static final String UNKNOWN_USER = "unknown_user";
    /** Refusal code: the product refused to authorise the user (e.g. no application access). */
    public static final String NOT_AUTHORISED = "not_authorised";

    private static final Logger LOG = Logger.getLogger(SeraphAssertionSupport.class.getName());
    private static final String PRINCIPAL_ATTRIBUTE = SeraphAssertionSupport.class.getName() + ".principal";

    /** What the product authenticator provides. */
    public interface Product {
        /** The product's user lookup (Seraph's getUser(String)); null when there is no such user. */
        Principal lookUp(String username);

        /** Seraph's authoriseUserAndEstablishSession. */
        boolean authoriseAndEstablishSession(HttpServletRequest request, HttpServletResponse response, Principal user);

        /** The product's normal authentication (super.getUser(request, response)). */
        Principal normalAuthentication(HttpServletRequest request, HttpServletResponse response);
    }

    private volatile AssertionVerifier verifier;
    private volatile String headerName = AssertionVerifier.DEFAULT_HEADER;

    /** Reads the settings (see {@link AssertionConfig}); a bad configuration refuses every assertion. */
    public void configure(Map<String, String> params) {
        try {
            AssertionVerifier v = AssertionConfig.verifier(params);
            headerName = v.headerName();
            verifier = v;
        } catch (IllegalArgumentException e) {
            verifier = null;
            headerName = AssertionConfig.headerName(params);
            LOG.log(Level.SEVERE, "restguard assertion authenticator is not configured ({0}): requests with an"
                    + " assertion will be refused", e.getMessage());
        }
    }

    /** Uses a verifier built elsewhere (tests, or a product-specific wiring). */
    public void useVerifier(AssertionVerifier v) {
        headerName = v.headerName();
        verifier = v;
    }

    /** The user for this request; see the class comment. */
    public Principal getUser(HttpServletRequest request, HttpServletResponse response, Product product) {
        Object known = request.getAttribute(PRINCIPAL_ATTRIBUTE);
        if (known instanceof Principal) {
            return (Principal) known;
        }
        RequestAssertion outcome = RequestAssertion.of(request, verifier, headerName);
        if (outcome == null) {
            endAssertionSession(request);
            return product.normalAuthentication(request, response);
        }
        if (outcome.refusal() != null) {
            outcome.respond(response);
            return null;
        }
        VerifiedAssertion a = outcome.assertion();
        Principal user;
        try {
            user = product.lookUp(a.subject());
        } catch (RuntimeException e) {
            user = null;
        }
        if (user == null) {
            RequestAssertion.refuse(request, UNKNOWN_USER).respond(response);
            return null;
        }
        boolean authorised;
        try {
            authorised = product.authoriseAndEstablishSession(request, response, user);
        } catch (RuntimeException e) {
            authorised = false;
        }
        if (!authorised) {
            RequestAssertion.refuse(request, NOT_AUTHORISED).respond(response);
            return null;
        }
        HttpSession session = request.getSession(false);
        if (session != null) {
            session.setAttribute(SESSION_ATTRIBUTE, a.subject());
        }
        request.setAttribute(PRINCIPAL_ATTRIBUTE, user);
        return user;
    }

    /**
     * A session an assertion established authenticates only requests that carry an
     * assertion: on a request without one it is invalidated before the product's own
     * authentication runs, so a leaked session cookie is worth nothing on its own.
     */
    private static void endAssertionSession(HttpServletRequest request) {
        HttpSession session = request.getSession(false);
        if (session == null || session.getAttribute(SESSION_ATTRIBUTE) == null) {
            return;
        }
        try {
            session.invalidate();
        } catch (IllegalStateException e) {
            // already invalidated
        }
    }
}
