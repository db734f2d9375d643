// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Java Servlet 4.0 API, javax.servlet.http.HttpServletRequest,
// https://javaee.github.io/javaee-spec/javadocs/javax/servlet/http/HttpServletRequest.html
// Subset: only the methods the authenticators call. getRequestURI() returns the
// request-target's path undecoded, context path included; getQueryString() the raw
// query or null.
package javax.servlet.http;

import java.util.Enumeration;
import javax.servlet.ServletRequest;

public interface HttpServletRequest extends ServletRequest {
    String getHeader(String name);

    Enumeration<String> getHeaders(String name);

    String getMethod();

    String getRequestURI();

    String getQueryString();

    HttpSession getSession(boolean create);

    HttpSession getSession();
}
