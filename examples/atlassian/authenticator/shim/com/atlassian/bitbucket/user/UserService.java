// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.user.UserService
// ("Provides methods for querying, creating and updating users and groups"),
// https://docs.atlassian.com/bitbucket-server/javadoc/9.5.0/api/com/atlassian/bitbucket/user/package-summary.html
// getUserByName(String) -> ApplicationUser, null when there is no such user, as
// Atlassian's own examples use it: cloudflare/cloudflare-access-for-atlassian,
// bitbucket-plugin/src/main/java/com/cloudflare/access/atlassian/bitbucket/auth/BitbucketAccessAuthenticationHandler.java
// ("ApplicationUser user = userService.getUserByName(userName);").
// Subset: only that method.
package com.atlassian.bitbucket.user;

public interface UserService {
    ApplicationUser getUserByName(String username);
}
