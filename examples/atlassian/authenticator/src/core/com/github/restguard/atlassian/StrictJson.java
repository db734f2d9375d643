package com.github.restguard.atlassian;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON parser, the twin of the Go verifier's (assertion/json.go)
 * so that both reach the same verdict on every input: RFC 8259 grammar, valid
 * UTF-8 (no BOM), no lone surrogate escapes, no duplicate member names (compared
 * after unescaping), nesting at most {@value #MAX_DEPTH}, nothing after the
 * top-level value, and the top-level value must be an object.
 *
 * <p>Values are {@link String}, {@link Number} (the literal as written), {@link Boolean},
 * {@code null}, {@code List<Object>} and {@code Map<String, Object>}.
 */
public final class StrictJson {
    /** Maximum nesting of objects and arrays, the top-level object included. */
    public static final int MAX_DEPTH = 16;

    /** A number literal, kept as written. */
    public static final class Number {
        private final String literal;

        Number(String literal) {
            this.literal = literal;
        }

        /** The literal as it appeared in the input. */
        public String literal() {
            return literal;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Number && ((Number) o).literal.equals(literal);
        }

        @Override
        public int hashCode() {
            return literal.hashCode();
        }

        @Override
        public String toString() {
            return literal;
        }
    }

    /** The input is not acceptable JSON. Carries no part of the input. */
    public static final class JsonException extends Exception {
        private static final long serialVersionUID = 1L;

        JsonException() {
            super("invalid JSON", null, false, false);
        }
    }

    private static final long MAX_SAFE_INTEGER = (1L << 53) - 1;

    private final String s;
    private int i;

    private StrictJson(String s) {
        this.s = s;
    }

    /** Parses UTF-8 bytes holding exactly one JSON object. */
    public static Map<String, Object> parseObject(byte[] data) throws JsonException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(data))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new JsonException();
        }
        StrictJson p = new StrictJson(text);
        p.skipSpace();
        if (p.i >= p.s.length() || p.s.charAt(p.i) != '{') {
            throw new JsonException();
        }
        Object v = p.value(0);
        p.skipSpace();
        if (p.i != p.s.length()) {
            throw new JsonException();
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        return m;
    }

    /**
     * Returns v as a non-negative integer when it is a number literal of digits
     * only (no sign, fraction or exponent) no larger than 2^53-1, else -1.
     */
    public static long integer(Object v) {
        if (!(v instanceof Number)) {
            return -1;
        }
        String n = ((Number) v).literal;
        if (n.isEmpty() || n.length() > 16) {
            return -1;
        }
        for (int k = 0; k < n.length(); k++) {
            char c = n.charAt(k);
            if (c < '0' || c > '9') {
                return -1;
            }
        }
        long x = Long.parseLong(n);
        return x > MAX_SAFE_INTEGER ? -1 : x;
    }

    private void skipSpace() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            i++;
        }
    }

    private Object value(int depth) throws JsonException {
        skipSpace();
        if (i >= s.length()) {
            throw new JsonException();
        }
        char c = s.charAt(i);
        if (c == '{' || c == '[') {
            if (depth >= MAX_DEPTH) {
                throw new JsonException();
            }
            return c == '{' ? object(depth + 1) : array(depth + 1);
        }
        if (c == '"') {
            return string();
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
        }
        if (s.startsWith("true", i)) {
            i += 4;
            return Boolean.TRUE;
        }
        if (s.startsWith("false", i)) {
            i += 5;
            return Boolean.FALSE;
        }
        if (s.startsWith("null", i)) {
            i += 4;
            return null;
        }
        throw new JsonException();
    }

    private Map<String, Object> object(int depth) throws JsonException {
        i++; // '{'
        Map<String, Object> obj = new LinkedHashMap<>();
        skipSpace();
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return obj;
        }
        while (true) {
            skipSpace();
            if (i >= s.length() || s.charAt(i) != '"') {
                throw new JsonException();
            }
            String name = string();
            if (obj.containsKey(name)) {
                throw new JsonException();
            }
            skipSpace();
            if (i >= s.length() || s.charAt(i) != ':') {
                throw new JsonException();
            }
            i++;
            obj.put(name, value(depth));
            skipSpace();
            if (i >= s.length()) {
                throw new JsonException();
            }
            char c = s.charAt(i++);
            if (c == '}') {
                return obj;
            }
            if (c != ',') {
                throw new JsonException();
            }
        }
    }

    private List<Object> array(int depth) throws JsonException {
        i++; // '['
        List<Object> arr = new ArrayList<>();
        skipSpace();
        if (i < s.length() && s.charAt(i) == ']') {
            i++;
            return arr;
        }
        while (true) {
            arr.add(value(depth));
            skipSpace();
            if (i >= s.length()) {
                throw new JsonException();
            }
            char c = s.charAt(i++);
            if (c == ']') {
                return arr;
            }
            if (c != ',') {
                throw new JsonException();
            }
        }
    }

    private String string() throws JsonException {
        i++; // opening quote
        StringBuilder b = new StringBuilder();
        while (i < s.length()) {
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                throw new JsonException();
            }
            if (c != '\\') {
                b.append(c); // surrogate pairs arrive here from valid UTF-8 only
                continue;
            }
            if (i >= s.length()) {
                throw new JsonException();
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"': case '\\': case '/': b.append(e); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u': {
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        // A high surrogate must be followed by an escaped low one.
                        if (i + 1 >= s.length() || s.charAt(i) != '\\' || s.charAt(i + 1) != 'u') {
                            throw new JsonException();
                        }
                        i += 2;
                        char lo = hex4();
                        if (!Character.isLowSurrogate(lo)) {
                            throw new JsonException();
                        }
                        b.append(u).append(lo);
                    } else if (Character.isLowSurrogate(u)) {
                        throw new JsonException(); // lone low surrogate
                    } else {
                        b.append(u);
                    }
                    break;
                }
                default:
                    throw new JsonException();
            }
        }
        throw new JsonException();
    }

    private char hex4() throws JsonException {
        if (i + 4 > s.length()) {
            throw new JsonException();
        }
        int r = 0;
        for (int k = 0; k < 4; k++) {
            char c = s.charAt(i + k);
            int d;
            if (c >= '0' && c <= '9') {
                d = c - '0';
            } else if (c >= 'a' && c <= 'f') {
                d = c - 'a' + 10;
            } else if (c >= 'A' && c <= 'F') {
                d = c - 'A' + 10;
            } else {
                throw new JsonException();
            }
            r = r << 4 | d;
        }
        i += 4;
        return (char) r;
    }

    /** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    private Number number() throws JsonException {
        int start = i;
        if (s.charAt(i) == '-') {
            i++;
        }
        if (i < s.length() && s.charAt(i) == '0') {
            i++;
        } else if (i < s.length() && s.charAt(i) >= '1' && s.charAt(i) <= '9') {
            digits();
        } else {
            throw new JsonException();
        }
        if (i < s.length() && s.charAt(i) == '.') {
            i++;
            if (digits() == 0) {
                throw new JsonException();
            }
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            if (digits() == 0) {
                throw new JsonException();
            }
        }
        return new Number(s.substring(start, i));
    }

    private int digits() {
        int n = 0;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
            n++;
        }
        return n;
    }
}
