// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center SPI, com.atlassian.bitbucket.auth.HttpAuthenticationHandler,
// https://docs.atlassian.com/bitbucket-server/javadoc/latest/spi/com/atlassian/bitbucket/auth/HttpAuthenticationHandler.html
// (the same in 8.18.0, 9.x and 10.2.0)
//   "Implementations should be stateless and thread-safe, as a single instance will be
//    used to service all authentication requests."
//   @Nullable AuthenticationResult performAuthentication(@Nonnull HttpAuthenticationContext)
//     returns a result "if the user is authenticated successfully", null "if the handler
//     does not know how to authenticate the user from the request ... By returning null,
//     other handlers will be attempted", and throws AuthenticationException when the
//     provided credentials are invalid.
//   void validateAuthentication(@Nonnull HttpAuthenticationContext)
//     "Invoked by the system on requests that have an authenticated user"; throws
//     AuthenticationException "if the current authentication is no longer valid".
// Registered with an <http-auth-handler key class weight> module in atlassian-plugin.xml
// (https://developer.atlassian.com/server/bitbucket/reference/plugin-module-types/http-authentication-handler/;
// example: cloudflare/cloudflare-access-for-atlassian bitbucket-plugin/src/main/resources/atlassian-plugin.xml).
// Older Bitbucket releases declared ApplicationUser authenticate(HttpAuthenticationContext)
// instead (as cloudflare-access-for-atlassian implements it); this shim follows the current SPI.
package com.atlassian.bitbucket.auth;

public interface HttpAuthenticationHandler {
    AuthenticationResult performAuthentication(HttpAuthenticationContext authenticationContext);

    void validateAuthentication(HttpAuthenticationContext authenticationContext);
}
