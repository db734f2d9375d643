// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Atlassian Seraph API, com.atlassian.seraph.auth.AuthenticatorException
// (thrown by DefaultAuthenticator.authenticate(Principal, String)),
// https://docs.atlassian.com/atlassian-seraph/2.6.1-m1/apidocs/com/atlassian/seraph/auth/package-summary.html
package com.atlassian.seraph.auth;

public class AuthenticatorException extends Exception {
    private static final long serialVersionUID = 1L;

    public AuthenticatorException() {
    }
}
