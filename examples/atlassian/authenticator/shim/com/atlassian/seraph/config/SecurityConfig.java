// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Atlassian Seraph API, com.atlassian.seraph.config.SecurityConfig (an
// interface; the second argument of Initable.init),
// https://docs.atlassian.com/atlassian-seraph/2.6.1-m1/apidocs/com/atlassian/seraph/Initable.html
// Members omitted: the authenticators do not use them.
package com.atlassian.seraph.config;

public interface SecurityConfig {
}
