// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Confluence API, com.atlassian.confluence.user.ConfluenceUser, the return
// type of ConfluenceAuthenticator.getUser(String uid),
// https://docs.atlassian.com/ConfluenceServer/javadoc/8.5.7/com/atlassian/confluence/user/ConfluenceAuthenticator.html
// Reduced to Principal (the real interface extends com.atlassian.user.User, a
// Principal); the authenticator only uses it as a Principal.
package com.atlassian.confluence.user;

import java.security.Principal;

public interface ConfluenceUser extends Principal {
}
