package com.github.restguard.atlassian.jira;

import com.atlassian.jira.security.login.JiraSeraphAuthenticator;
import com.atlassian.seraph.config.SecurityConfig;
import com.github.restguard.atlassian.AssertionVerifier;
import com.github.restguard.atlassian.seraph.SeraphAssertionSupport;
import java.security.Principal;
import java.util.Map;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/**
 * Jira's Seraph authenticator, extended to accept restguard identity assertions.
 * Replaces {@code com.atlassian.jira.security.login.JiraSeraphAuthenticator} in
 * {@code WEB-INF/classes/seraph-config.xml} (see the README):
 *
 * <ul>
 *   <li>with an {@code X-Restguard-Assertion} header: the assertion is verified and the
 *       user resolved with Jira's own lookup ({@code getUser(String)}, Crowd Embedded);
 *       any failure refuses the request, with no fallback to the session or Basic;</li>
 *   <li>without it: Jira's normal authentication, unchanged.</li>
 * </ul>
 */
public class RestguardJiraAuthenticator extends JiraSeraphAuthenticator {
    private static final long serialVersionUID = 1L;

    private final SeraphAssertionSupport support = new SeraphAssertionSupport();

    @Override
    public void init(Map<String, String> params, SecurityConfig config) {
        super.init(params, config);
        support.configure(params);
    }

    /** Uses a verifier built elsewhere instead of the init-params (tests). */
    public void useVerifier(AssertionVerifier verifier) {
        support.useVerifier(verifier);
    }

    @Override
    public Principal getUser(HttpServletRequest request, HttpServletResponse response) {
        return support.getUser(request, response, new SeraphAssertionSupport.Product() {
            @Override
            public Principal lookUp(String username) {
                return getUser(username);
            }

            @Override
            public boolean authoriseAndEstablishSession(HttpServletRequest req, HttpServletResponse resp, Principal user) {
                return authoriseUserAndEstablishSession(req, resp, user);
            }

            @Override
            public Principal normalAuthentication(HttpServletRequest req, HttpServletResponse resp) {
                return RestguardJiraAuthenticator.super.getUser(req, resp);
            }
        });
    }
}
