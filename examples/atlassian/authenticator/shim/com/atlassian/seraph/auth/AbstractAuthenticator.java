// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Atlassian Seraph API, com.atlassian.seraph.auth.AbstractAuthenticator
// ("An abstract implementation of Authenticator that implements a lot of base
// methods"; implements Authenticator, Initable, Serializable),
// https://docs.atlassian.com/atlassian-seraph/2.6.1-m1/apidocs/com/atlassian/seraph/auth/package-summary.html
package com.atlassian.seraph.auth;

import java.io.Serializable;

public abstract class AbstractAuthenticator implements Authenticator, Serializable {
    private static final long serialVersionUID = 1L;
}
