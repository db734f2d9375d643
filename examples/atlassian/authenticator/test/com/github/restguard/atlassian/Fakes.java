package com.github.restguard.atlassian;

import com.atlassian.bitbucket.user.ApplicationUser;
import com.atlassian.confluence.user.ConfluenceUser;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.servlet.http.HttpSession;

/** Hand-written fakes of the servlet API and of a product's user directory. */
final class Fakes {
    private Fakes() {}

    /** A user of every product: a Seraph Principal, a ConfluenceUser and a Bitbucket ApplicationUser. */
    static final class User implements ConfluenceUser, ApplicationUser {
        final String name;
        boolean active = true;

        User(String name) {
            this.name = name;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public String getSlug() {
            return name;
        }

        @Override
        public boolean isActive() {
            return active;
        }

        @Override
        public String toString() {
            return "User(" + name + ")";
        }
    }

    /** The product's user directory: who exists, their passwords, who may log in. */
    static final class Directory {
        final Map<String, User> users = new HashMap<>();
        final Map<String, String> passwords = new HashMap<>();
        final Set<String> unauthorised = new HashSet<>();
        final List<String> lookups = new ArrayList<>();

        Directory add(String name, String password) {
            users.put(name, new User(name));
            passwords.put(name, password);
            return this;
        }

        User lookUp(String name) {
            lookups.add(name);
            return users.get(name);
        }

        boolean passwordOk(Principal user, String password) {
            return password.equals(passwords.get(user.getName()));
        }

        boolean authorised(Principal user) {
            return !unauthorised.contains(user.getName());
        }
    }

    static final class Session implements HttpSession {
        final Map<String, Object> attributes = new HashMap<>();
        boolean invalidated;

        @Override
        public Object getAttribute(String name) {
            check();
            return attributes.get(name);
        }

        @Override
        public void setAttribute(String name, Object value) {
            check();
            attributes.put(name, value);
        }

        @Override
        public void removeAttribute(String name) {
            check();
            attributes.remove(name);
        }

        @Override
        public void invalidate() {
            check();
            invalidated = true;
            attributes.clear();
        }

        private void check() {
            if (invalidated) {
                throw new IllegalStateException("session invalidated"); // as the servlet spec says
            }
        }
    }

    static final class Request implements HttpServletRequest {
        final String method;
        final String uri;
        final String query;
        final Map<String, List<String>> headers = new LinkedHashMap<>();
        final Map<String, Object> attributes = new HashMap<>();
        Session session;

        Request(String method, String uri, String query) {
            this.method = method;
            this.uri = uri;
            this.query = query;
        }

        static Request of(Vectors.Vector v) {
            return new Request(v.method, v.path, v.query.isEmpty() ? null : v.query).header(
                    AssertionVerifier.DEFAULT_HEADER, v.assertion);
        }

        Request header(String name, String value) {
            headers.computeIfAbsent(name.toLowerCase(), k -> new ArrayList<>()).add(value);
            return this;
        }

        Request basic(String user, String password) {
            return header("Authorization", "Basic " + Base64.getEncoder().encodeToString(
                    (user + ":" + password).getBytes(StandardCharsets.UTF_8)));
        }

        Request session(Session s) {
            session = s;
            return this;
        }

        @Override
        public String getHeader(String name) {
            List<String> v = headers.get(name.toLowerCase());
            return v == null ? null : v.get(0);
        }

        @Override
        public Enumeration<String> getHeaders(String name) {
            return Collections.enumeration(headers.getOrDefault(name.toLowerCase(), List.of()));
        }

        @Override
        public String getMethod() {
            return method;
        }

        @Override
        public String getRequestURI() {
            return uri;
        }

        @Override
        public String getQueryString() {
            return query;
        }

        @Override
        public HttpSession getSession(boolean create) {
            if (session != null && session.invalidated) {
                session = null; // the container forgets an invalidated session
            }
            if (session == null && create) {
                session = new Session();
            }
            return session;
        }

        @Override
        public HttpSession getSession() {
            return getSession(true);
        }

        @Override
        public Object getAttribute(String name) {
            return attributes.get(name);
        }

        @Override
        public void setAttribute(String name, Object o) {
            attributes.put(name, o);
        }

        @Override
        public void removeAttribute(String name) {
            attributes.remove(name);
        }
    }

    static final class Response implements HttpServletResponse {
        final Map<String, String> headers = new HashMap<>();
        int error;
        int errorsSent;

        @Override
        public boolean isCommitted() {
            return error != 0;
        }

        @Override
        public void setHeader(String name, String value) {
            headers.put(name, value);
        }

        @Override
        public void sendError(int sc) {
            if (error != 0) {
                throw new IllegalStateException("committed"); // as the servlet spec says
            }
            error = sc;
            errorsSent++;
        }
    }
}
