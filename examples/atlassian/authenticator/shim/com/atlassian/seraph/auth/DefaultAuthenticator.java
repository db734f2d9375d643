// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Atlassian Seraph API, com.atlassian.seraph.auth.DefaultAuthenticator,
// https://docs.atlassian.com/atlassian-seraph/2.6.1-m1/apidocs/com/atlassian/seraph/auth/DefaultAuthenticator.html
//   public abstract class DefaultAuthenticator extends AbstractAuthenticator
//   "This authenticator stores the currently logged in user in the session as a Principal."
//   static String LOGGED_IN_KEY, LOGGED_OUT_KEY
//   Principal getUser(HttpServletRequest, HttpServletResponse)        (public)
//   protected abstract Principal getUser(String username)             (via JiraSeraphAuthenticator's docs)
//   protected abstract boolean authenticate(Principal user, String password)
//   protected boolean authoriseUserAndEstablishSession(HttpServletRequest, HttpServletResponse, Principal)
//     "This is called to authorise the user with the application."
// The key values are the session attribute names other authenticators use
// (Internet2 grouper ExternalConfluenceAuthenticator: "seraph_defaultauthenticator_user",
// "seraph_defaultauthenticator_logged_out_user").
//
// The method BODIES are stand-ins for tests, not Seraph's code: getUser(request,
// response) returns the Principal kept in the session, else a Basic login through
// getUser(String) and authenticate(); authoriseUserAndEstablishSession puts the
// Principal in the session. Seraph's real order also includes remember-me cookies
// and its RoleMapper; the authenticators only rely on "super.getUser(request,
// response) is the product's normal authentication".
package com.atlassian.seraph.auth;

import com.atlassian.seraph.config.SecurityConfig;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.util.Base64;
import java.util.Map;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.servlet.http.HttpSession;

public abstract class DefaultAuthenticator extends AbstractAuthenticator {
    private static final long serialVersionUID = 1L;

    public static final String LOGGED_IN_KEY = "seraph_defaultauthenticator_user";
    public static final String LOGGED_OUT_KEY = "seraph_defaultauthenticator_logged_out_user";

    public DefaultAuthenticator() {
    }

    @Override
    public void init(Map<String, String> params, SecurityConfig config) {
    }

    @Override
    public Principal getUser(HttpServletRequest request, HttpServletResponse response) {
        HttpSession session = request.getSession(false);
        if (session != null && session.getAttribute(LOGGED_IN_KEY) instanceof Principal) {
            return (Principal) session.getAttribute(LOGGED_IN_KEY);
        }
        String auth = request.getHeader("Authorization");
        if (auth != null && auth.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(auth.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return null;
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                return null;
            }
            Principal user = getUser(decoded.substring(0, colon));
            try {
                if (user != null && authenticate(user, decoded.substring(colon + 1))
                        && authoriseUserAndEstablishSession(request, response, user)) {
                    return user;
                }
            } catch (AuthenticatorException e) {
                return null;
            }
        }
        return null;
    }

    protected abstract Principal getUser(String username);

    protected abstract boolean authenticate(Principal user, String password) throws AuthenticatorException;

    protected boolean authoriseUserAndEstablishSession(HttpServletRequest httpServletRequest,
            HttpServletResponse httpServletResponse, Principal principal) {
        httpServletRequest.getSession(true).setAttribute(LOGGED_IN_KEY, principal);
        return true;
    }
}
