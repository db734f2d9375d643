// API SHIM, compiled only to build and test the examples; never shipped.
// Source: Java Servlet 4.0 API, javax.servlet.http.HttpServletResponse,
// https://javaee.github.io/javaee-spec/javadocs/javax/servlet/http/HttpServletResponse.html
// Subset: only the members the authenticators use.
package javax.servlet.http;

import java.io.IOException;
import javax.servlet.ServletResponse;

public interface HttpServletResponse extends ServletResponse {
    int SC_UNAUTHORIZED = 401;

    void setHeader(String name, String value);

    void sendError(int sc) throws IOException;
}
