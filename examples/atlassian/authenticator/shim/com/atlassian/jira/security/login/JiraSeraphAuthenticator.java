// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Jira API, com.atlassian.jira.security.login.JiraSeraphAuthenticator,
// https://docs.atlassian.com/jira/7.0.9/com/atlassian/jira/security/login/JiraSeraphAuthenticator.html
//   public class JiraSeraphAuthenticator extends com.atlassian.seraph.auth.DefaultAuthenticator
//   "It uses Crowd Embedded to implement the abstract methods of Seraph's default base implementation."
//   public JiraSeraphAuthenticator()
//   protected Principal getUser(String username)
//   protected boolean authenticate(Principal user, String password) throws AuthenticatorException
//   inherits authoriseUserAndEstablishSession, getUser(HttpServletRequest, HttpServletResponse), init
// It is the <authenticator class> of a stock Jira seraph-config.xml (see the
// MIDAN-SOFTWARE/MIDANAuthenticator README, which quotes that file).
// Bodies are stand-ins: tests override getUser(String) and authenticate() with a
// user directory.
package com.atlassian.jira.security.login;

import com.atlassian.seraph.auth.AuthenticatorException;
import com.atlassian.seraph.auth.DefaultAuthenticator;
import java.security.Principal;

public class JiraSeraphAuthenticator extends DefaultAuthenticator {
    private static final long serialVersionUID = 1L;

    public JiraSeraphAuthenticator() {
    }

    @Override
    protected Principal getUser(String username) {
        return null;
    }

    @Override
    protected boolean authenticate(Principal user, String password) throws AuthenticatorException {
        return false;
    }
}
