package com.github.restguard.atlassian.bitbucket;

import com.atlassian.bitbucket.auth.AuthenticationException;
import com.atlassian.bitbucket.auth.AuthenticationResult;
import com.atlassian.bitbucket.auth.HttpAuthenticationContext;
import com.atlassian.bitbucket.auth.HttpAuthenticationHandler;
import com.atlassian.bitbucket.i18n.KeyedMessage;
import com.atlassian.bitbucket.user.ApplicationUser;
import com.atlassian.bitbucket.user.UserService;
import com.github.restguard.atlassian.AssertionConfig;
import com.github.restguard.atlassian.AssertionVerifier;
import com.github.restguard.atlassian.RequestAssertion;
import com.github.restguard.atlassian.VerifiedAssertion;
import java.util.Map;
import java.util.Objects;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpSession;

/**
 * A Bitbucket Data Center {@code http-auth-handler} that accepts restguard identity
 * assertions (registered in atlassian-plugin.xml; see the README).
 *
 * <ul>
 *   <li>{@link #performAuthentication}: without an assertion header it returns null,
 *       so Bitbucket's other handlers (the UI login, tokens) run as usual. With one, it
 *       verifies the assertion and resolves the user with
 *       {@code UserService.getUserByName}; any failure throws
 *       {@link AuthenticationException}, so the request is refused rather than handed
 *       to another handler.</li>
 *   <li>{@link #validateAuthentication}, on requests with an authenticated session: a
 *       session this handler established is only valid with a fresh assertion for the
 *       same user; an assertion on any other session is refused, so no request
 *       carrying an assertion runs as a session's user.</li>
 * </ul>
 *
 * <p>Configured from Java system properties or the environment (see
 * {@link AssertionConfig}), since a plugin module has no init-params. Stateless apart
 * from the verifier's replay cache, and thread-safe, as the SPI requires.
 */
public class RestguardBitbucketAuthenticationHandler implements HttpAuthenticationHandler {
    /** Session attribute marking a session this handler established; its value is the username. */
    public static final String SESSION_ATTRIBUTE = "com.github.restguard.atlassian.assertion-session";
    /** Refusal code: Bitbucket has no such user, or the user is disabled. */
    public static final String UNKNOWN_USER = "unknown_user";

    private static final Logger LOG = Logger.getLogger(RestguardBitbucketAuthenticationHandler.class.getName());

    private final UserService userService;
    private final AssertionVerifier verifier; // null when the configuration is unusable
    private final String headerName;

    /** Plugin constructor: Bitbucket injects its UserService. */
    public RestguardBitbucketAuthenticationHandler(UserService userService) {
        this(userService, configured());
    }

    /** Uses a verifier built elsewhere (tests); null refuses every assertion. */
    public RestguardBitbucketAuthenticationHandler(UserService userService, AssertionVerifier verifier) {
        this.userService = Objects.requireNonNull(userService, "userService");
        this.verifier = verifier;
        this.headerName = verifier != null ? verifier.headerName() : AssertionConfig.headerName(Map.of());
    }

    private static AssertionVerifier configured() {
        try {
            return AssertionConfig.verifier(Map.of());
        } catch (IllegalArgumentException e) {
            LOG.log(Level.SEVERE, "restguard assertion handler is not configured ({0}): requests with an"
                    + " assertion will be refused", e.getMessage());
            return null;
        }
    }

    @Override
    public AuthenticationResult performAuthentication(HttpAuthenticationContext context) {
        HttpServletRequest request = context.getRequest();
        RequestAssertion outcome = RequestAssertion.of(request, verifier, headerName);
        if (outcome == null) {
            return null; // no assertion: the other handlers decide
        }
        ApplicationUser user = userFor(context, outcome);
        // Mark the session Bitbucket is about to keep for this user, so that it is
        // never valid without an assertion (validateAuthentication).
        request.getSession(true).setAttribute(SESSION_ATTRIBUTE, user.getName());
        return new AuthenticationResult.Builder(user).build();
    }

    @Override
    public void validateAuthentication(HttpAuthenticationContext context) {
        HttpServletRequest request = context.getRequest();
        HttpSession session = request.getSession(false);
        Object sessionUser = session == null ? null : session.getAttribute(SESSION_ATTRIBUTE);
        RequestAssertion outcome = RequestAssertion.of(request, verifier, headerName);
        if (outcome == null) {
            if (sessionUser != null) {
                throw refusal(context, RequestAssertion.refuse(request, "session_without_assertion"));
            }
            return; // a session from another login, and no assertion: not ours to judge
        }
        ApplicationUser user = userFor(context, outcome);
        if (!user.getName().equals(sessionUser)) {
            // An assertion must never run as the user of a session it did not establish.
            throw refusal(context, RequestAssertion.refuse(request, "session_user_differs"));
        }
    }

    /** The verified assertion's user, or throws the refusal. */
    private ApplicationUser userFor(HttpAuthenticationContext context, RequestAssertion outcome) {
        if (outcome.refusal() != null) {
            throw refusal(context, outcome);
        }
        VerifiedAssertion a = outcome.assertion();
        ApplicationUser user;
        try {
            user = userService.getUserByName(a.subject());
        } catch (RuntimeException e) {
            user = null;
        }
        if (user == null || !user.isActive()) {
            throw refusal(context, RequestAssertion.refuse(context.getRequest(), UNKNOWN_USER));
        }
        return user;
    }

    private static AuthenticationException refusal(HttpAuthenticationContext context, RequestAssertion outcome) {
        if (context.getResponse() != null && !context.getResponse().isCommitted()) {
            context.getResponse().setHeader(RequestAssertion.REFUSED_HEADER, outcome.refusal());
        }
        String text = "restguard identity assertion refused: " + outcome.refusal();
        return new AuthenticationException(new KeyedMessage("restguard.assertion.refused", text, text));
    }
}
