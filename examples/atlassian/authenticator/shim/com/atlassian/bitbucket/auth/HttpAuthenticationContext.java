// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.auth.HttpAuthenticationContext,
// https://docs.atlassian.com/bitbucket-server/javadoc/9.6.0/spi/com/atlassian/bitbucket/auth/HttpAuthenticationContext.html
//   "Context class holding all details relevant for authentication processing by
//    HttpAuthenticationHandler modules."
//   @Nonnull javax.servlet.http.HttpServletRequest getRequest()
//   @Nonnull javax.servlet.http.HttpServletResponse getResponse()
// Subset: getCredentials, getFilterChain, getMethod and getUsername are omitted.
package com.atlassian.bitbucket.auth;

import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

public interface HttpAuthenticationContext {
    HttpServletRequest getRequest();

    HttpServletResponse getResponse();
}
