// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bamboo API, com.atlassian.bamboo.user.authentication.BambooAuthenticator,
// https://docs.atlassian.com/atlassian-bamboo/9.5.4/com/atlassian/bamboo/user/authentication/BambooAuthenticator.html
//   public class BambooAuthenticator extends com.atlassian.seraph.auth.DefaultAuthenticator
//   "Only authenticate when container has been setup"
//   protected boolean authenticate(Principal user, String password)
//   protected Principal getUser(String uid)
//   inherits authoriseUserAndEstablishSession, getUser(HttpServletRequest, HttpServletResponse), init
// (The Crowd SSO class of the same simple name, com.atlassian.crowd.integration.seraph.v25.BambooAuthenticator,
// is a different class.) Bodies are stand-ins: tests override getUser(String) and authenticate().
package com.atlassian.bamboo.user.authentication;

import com.atlassian.seraph.auth.DefaultAuthenticator;
import java.security.Principal;

public class BambooAuthenticator extends DefaultAuthenticator {
    private static final long serialVersionUID = 1L;

    public BambooAuthenticator() {
    }

    @Override
    protected boolean authenticate(Principal user, String password) {
        return false;
    }

    @Override
    protected Principal getUser(String uid) {
        return null;
    }
}
