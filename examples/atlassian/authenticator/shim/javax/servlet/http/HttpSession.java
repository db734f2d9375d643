// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Java Servlet 4.0 API, javax.servlet.http.HttpSession,
// https://javaee.github.io/javaee-spec/javadocs/javax/servlet/http/HttpSession.html
// Subset: only the methods the authenticators call.
package javax.servlet.http;

public interface HttpSession {
    Object getAttribute(String name);

    void setAttribute(String name, Object value);

    void removeAttribute(String name);

    void invalidate();
}
