// API SHIM, compiled only to build and test the examples; never shipped. The real
// class comes from the product's servlet container (Tomcat).
// Source: Java Servlet 4.0 API, javax.servlet.ServletRequest,
// https://javaee.github.io/javaee-spec/javadocs/javax/servlet/ServletRequest.html
// Subset: only the methods the authenticators call. Confluence 10 and other
// Platform 7 products use jakarta.servlet instead (see README).
package javax.servlet;

public interface ServletRequest {
    Object getAttribute(String name);

    void setAttribute(String name, Object o);

    void removeAttribute(String name);
}
