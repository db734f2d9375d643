// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Java Servlet 4.0 API, javax.servlet.ServletResponse,
// https://javaee.github.io/javaee-spec/javadocs/javax/servlet/ServletResponse.html
// Subset: only the methods the authenticators call.
package javax.servlet;

public interface ServletResponse {
    boolean isCommitted();
}
