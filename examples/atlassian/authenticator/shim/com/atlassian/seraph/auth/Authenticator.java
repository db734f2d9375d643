// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Atlassian Seraph API, com.atlassian.seraph.auth.Authenticator
// ("An Authenticator is used to authenticate users, log them in, log them out and
// check their roles"; extends Initable, whose init(Map<String,String> params,
// SecurityConfig config) receives the <init-param>s from seraph-config.xml),
// https://docs.atlassian.com/atlassian-seraph/2.6.1-m1/apidocs/com/atlassian/seraph/auth/Authenticator.html
// https://docs.atlassian.com/atlassian-seraph/2.6.1-m1/apidocs/com/atlassian/seraph/Initable.html
// Subset: only the methods the authenticators override or call.
package com.atlassian.seraph.auth;

import com.atlassian.seraph.config.SecurityConfig;
import java.security.Principal;
import java.util.Map;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

public interface Authenticator {
    void init(Map<String, String> params, SecurityConfig config);

    Principal getUser(HttpServletRequest request, HttpServletResponse response);
}
