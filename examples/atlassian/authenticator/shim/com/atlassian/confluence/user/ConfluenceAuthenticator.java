// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Confluence API, com.atlassian.confluence.user.ConfluenceAuthenticator,
// https://docs.atlassian.com/ConfluenceServer/javadoc/8.5.7/com/atlassian/confluence/user/ConfluenceAuthenticator.html
// (same members in 7.19.14 and 9.1.1; 10.0.3 takes jakarta.servlet types)
//   public class ConfluenceAuthenticator extends com.atlassian.seraph.auth.DefaultAuthenticator
//   "Authenticator which uses Confluence's user management code to authenticate a user
//    against the directory which they come from (e.g. internal, LDAP, Crowd)."
//   public ConfluenceAuthenticator()
//   protected ConfluenceUser getUser(String uid)
//   protected boolean authenticate(Principal user, String password)
//   protected boolean authoriseUserAndEstablishSession(HttpServletRequest, HttpServletResponse, Principal)
// Bodies are stand-ins: tests override getUser(String) and authenticate().
package com.atlassian.confluence.user;

import com.atlassian.seraph.auth.DefaultAuthenticator;
import java.security.Principal;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

public class ConfluenceAuthenticator extends DefaultAuthenticator {
    private static final long serialVersionUID = 1L;

    public ConfluenceAuthenticator() {
    }

    @Override
    protected ConfluenceUser getUser(String uid) {
        return null;
    }

    @Override
    protected boolean authenticate(Principal user, String password) {
        return false;
    }

    @Override
    protected boolean authoriseUserAndEstablishSession(HttpServletRequest httpServletRequest,
            HttpServletResponse httpServletResponse, Principal principal) {
        return super.authoriseUserAndEstablishSession(httpServletRequest, httpServletResponse, principal);
    }
}
