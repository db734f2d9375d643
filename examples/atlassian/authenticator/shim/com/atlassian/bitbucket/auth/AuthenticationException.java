// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.auth.AuthenticationException,
// https://docs.atlassian.com/bitbucket-server/javadoc/9.2.1/api/com/atlassian/bitbucket/auth/AuthenticationException.html
//   "Base type for all exceptions which are thrown while processing user authentication attempts."
//   extends com.atlassian.bitbucket.ServiceException
//   public AuthenticationException(KeyedMessage message)
package com.atlassian.bitbucket.auth;

import com.atlassian.bitbucket.ServiceException;
import com.atlassian.bitbucket.i18n.KeyedMessage;

public class AuthenticationException extends ServiceException {
    private static final long serialVersionUID = 1L;

    public AuthenticationException(KeyedMessage message) {
        super(message);
    }
}
