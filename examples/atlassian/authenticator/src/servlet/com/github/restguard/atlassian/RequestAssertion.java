package com.github.restguard.atlassian;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.logging.Logger;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/**
 * Verifies the assertion a servlet request carries, once per request: products call
 * their authenticator several times while serving one request, and a second
 * verification of the same assertion would be a replay. The outcome is kept in a
 * request attribute.
 */
public final class RequestAssertion {
    /** Request attribute holding the {@link RequestAssertion} of this request. */
    public static final String ATTRIBUTE = RequestAssertion.class.getName();
    /** Response header naming the reason of a refusal (a stable reason code, never the assertion). */
    public static final String REFUSED_HEADER = "X-Restguard-Assertion-Refused";
    /** Refusal code when the authenticator has no usable configuration. */
    public static final String NOT_CONFIGURED = "not_configured";

    private static final Logger LOG = Logger.getLogger(RequestAssertion.class.getName());

    private final VerifiedAssertion assertion;
    private final String refusal;
    private boolean responded; // the refusal has been sent; guarded by this

    private RequestAssertion(VerifiedAssertion assertion, String refusal) {
        this.assertion = assertion;
        this.refusal = refusal;
    }

    /** The verified claims, or null when refused. */
    public VerifiedAssertion assertion() {
        return assertion;
    }

    /** The refusal code (a {@link Reason} code, or {@link #NOT_CONFIGURED}), or null when verified. */
    public String refusal() {
        return refusal;
    }

    /**
     * Verifies the request's assertion, or returns the outcome already recorded for this
     * request. Returns null when the request carries no assertion header (nothing is
     * recorded then: the product's own authentication decides).
     *
     * @param verifier the configured verifier, or null when the configuration is unusable
     * @param headerName the header to read
     */
    public static RequestAssertion of(HttpServletRequest request, AssertionVerifier verifier, String headerName) {
        Object cached = request.getAttribute(ATTRIBUTE);
        if (cached instanceof RequestAssertion) {
            return (RequestAssertion) cached;
        }
        List<String> values = headerValues(request, headerName);
        if (values.isEmpty()) {
            return null;
        }
        RequestAssertion outcome;
        if (verifier == null) {
            outcome = new RequestAssertion(null, NOT_CONFIGURED);
        } else if (values.size() > 1) {
            outcome = new RequestAssertion(null, Reason.MALFORMED.code());
        } else {
            try {
                outcome = new RequestAssertion(verifier.verify(values.get(0), request.getMethod(),
                        request.getRequestURI(), request.getQueryString()), null);
            } catch (AssertionException e) {
                outcome = new RequestAssertion(null, e.reason().code());
            }
        }
        if (outcome.refusal != null) {
            String code = outcome.refusal;
            LOG.info(() -> "restguard assertion refused: " + code + " (" + request.getMethod() + ")");
        }
        request.setAttribute(ATTRIBUTE, outcome);
        return outcome;
    }

    /** Records a refusal decided after verification (e.g. the user does not exist). */
    public static RequestAssertion refuse(HttpServletRequest request, String code) {
        RequestAssertion outcome = new RequestAssertion(null, code);
        LOG.info(() -> "restguard assertion refused: " + code + " (" + request.getMethod() + ")");
        request.setAttribute(ATTRIBUTE, outcome);
        return outcome;
    }

    /**
     * Answers a refused request with 401 and the reason in {@link #REFUSED_HEADER}, once,
     * unless the response is already committed. Seraph has no way to stop the filter
     * chain from an authenticator; with the error sent, Tomcat discards whatever the
     * rest of the chain writes, and the request runs with no user at most.
     */
    public synchronized void respond(HttpServletResponse response) {
        if (refusal == null || responded || response == null) {
            return;
        }
        responded = true;
        if (response.isCommitted()) {
            return;
        }
        response.setHeader(REFUSED_HEADER, refusal);
        try {
            response.sendError(HttpServletResponse.SC_UNAUTHORIZED);
        } catch (IOException | IllegalStateException e) {
            // The client went away or the response was committed meanwhile; the
            // request still has no user.
        }
    }

    private static List<String> headerValues(HttpServletRequest request, String name) {
        Enumeration<String> e = request.getHeaders(name);
        if (e == null) {
            String one = request.getHeader(name);
            return one == null ? List.of() : List.of(one);
        }
        List<String> out = new ArrayList<>();
        for (String v : Collections.list(e)) {
            out.add(v);
        }
        return out;
    }
}
