// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.auth.AuthenticationResult
// ("Outcome of a successful authentication operation") and AuthenticationResult.Builder,
// https://docs.atlassian.com/bitbucket-server/javadoc/9.4.0/spi/com/atlassian/bitbucket/auth/AuthenticationResult.Builder.html
// https://docs.atlassian.com/bitbucket-server/javadoc/7.6.0/spi/com/atlassian/bitbucket/auth/AuthenticationResult.html
//   public Builder(@Nonnull ApplicationUser user); AuthenticationResult build()
//   @Nonnull ApplicationUser getUser()
// Subset: property()/properties()/getProperties() omitted.
package com.atlassian.bitbucket.auth;

import com.atlassian.bitbucket.user.ApplicationUser;

public class AuthenticationResult {
    private final ApplicationUser user;

    private AuthenticationResult(ApplicationUser user) {
        this.user = user;
    }

    public ApplicationUser getUser() {
        return user;
    }

    public static class Builder {
        private final ApplicationUser user;

        public Builder(ApplicationUser user) {
            this.user = user;
        }

        public AuthenticationResult build() {
            return new AuthenticationResult(user);
        }
    }
}
