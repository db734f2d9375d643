// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Bitbucket Data Center API, com.atlassian.bitbucket.user.ApplicationUser
// ("Represents a registered application user"; getName() from Person, getSlug(),
// isActive(): "true if the user is enabled, false for deleted and disabled users"),
// https://docs.atlassian.com/bitbucket-server/javadoc/latest/api/com/atlassian/bitbucket/user/ApplicationUser.html
// Subset: only the methods the handler calls. The real interface also extends Person
// and Principal; Principal is kept here.
package com.atlassian.bitbucket.user;

import java.security.Principal;

public interface ApplicationUser extends Principal {
    @Override
    String getName();

    String getSlug();

    boolean isActive();
}
