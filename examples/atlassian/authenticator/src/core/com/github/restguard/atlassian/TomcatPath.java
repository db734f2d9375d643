package com.github.restguard.atlassian;

import java.util.Arrays;

/**
 * The path normaliser of restguard's {@code policy/paths.go} ({@code NormalizePath}),
 * ported line by line so that restguard (which hashes the path Envoy saw) and the
 * product (which hashes {@code getRequestURI()}) compute the same request target.
 * It resolves a raw request path (no query) the way Tomcat does before a servlet
 * sees it (security catalogue G1, atlassian.md §2.6):
 *
 * <ul>
 *   <li>";params" are stripped from every segment, up to the next '/'
 *       (so "..;" counts as "..", Tomcat CoyoteAdapter.parsePathParameters);</li>
 *   <li>%XX escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded
 *       ("%72" → "r", "%2e" → "."); every other escape is kept encoded with
 *       upper-case hex digits ("%2f" → "%2F");</li>
 *   <li>'\' is treated as '/', "//" is merged, "." and ".." segments are resolved;</li>
 *   <li>a trailing '/' is kept.</li>
 * </ul>
 *
 * <p>ambiguous is true when any of those steps changed something, or when the path
 * holds something Tomcat, Envoy and restguard may read differently: an encoded '/',
 * '\', '%', control or non-ASCII byte (%2F, %5C, %25, %00-%1F, %7F, %80-%FF), a segment
 * ending in '.', a raw non-ASCII byte, or a raw '#' or '?'. (The verifier does not use
 * it; it is ported so the vectors can check the port whole.)
 *
 * <p>The path is refused when it cannot be made safe: it does not start with '/'
 * (including absolute-form "http://..."), holds a raw control character or NUL, a
 * ".." above the root, an invalid %-escape, or is longer than {@value #MAX_PATH_BYTES}
 * bytes.
 *
 * <p>Keep this file in step with policy/paths.go; the "paths" section of the shared
 * test vectors holds NormalizePath's answers and the Java tests compare against them.
 */
public final class TomcatPath {
    /** Bounds the raw path accepted (policy.MaxPathBytes). */
    public static final int MAX_PATH_BYTES = 8 << 10;

    private TomcatPath() {}

    /** The path cannot be made safe. */
    public static final class PathException extends Exception {
        private static final long serialVersionUID = 1L;

        PathException(String message) {
            super(message, null, false, false);
        }
    }

    /** A normalised path and why it may be ambiguous. */
    public static final class Result {
        private final byte[] clean;
        private final boolean changed;
        private final boolean suspicious;

        Result(byte[] clean, boolean changed, boolean suspicious) {
            this.clean = clean;
            this.changed = changed;
            this.suspicious = suspicious;
        }

        /** The normalised path, as bytes. */
        public byte[] clean() {
            return clean.clone();
        }

        byte[] cleanNoCopy() {
            return clean;
        }

        /** A transformation altered the path, or the clean path holds something ambiguous. */
        public boolean ambiguous() {
            return changed || suspicious;
        }
    }

    /** NormalizePath: normalises a raw request path (no query). */
    public static Result normalize(byte[] raw) throws PathException {
        if (raw.length > MAX_PATH_BYTES) {
            throw new PathException("policy: path longer than 8 KiB");
        }
        if (raw.length == 0 || raw[0] != '/') {
            throw new PathException("policy: path does not start with '/'");
        }
        if (fastPath(raw)) {
            return new Result(raw, false, false);
        }

        boolean changed = false;
        boolean suspicious = false;
        byte[] out = new byte[raw.length + 1];
        int n = 0; // len(out)
        int[] starts = new int[16]; // start offset in out of each kept segment (after its '/')
        int ns = 0;
        boolean trailing = false; // the path ends in a directory ("/", "/.", "/..")
        int i = 1;
        while (true) {
            // One raw segment: raw[i:end] up to '/', '\' or the end.
            int segStart = n;
            out[n++] = '/';
            int j = i;
            for (; j < raw.length && raw[j] != '/' && raw[j] != '\\'; j++) {
                int c = raw[j] & 0xff;
                if (c == ';') {
                    // Path parameter: Tomcat drops everything up to the next '/'.
                    changed = true;
                    while (j < raw.length && raw[j] != '/') {
                        int d = raw[j] & 0xff;
                        if (d < 0x20 || d == 0x7f) {
                            throw new PathException("policy: control character in path");
                        }
                        j++;
                    }
                    j--; // the loop increment lands on '/' or the end
                } else if (c < 0x20 || c == 0x7f) {
                    throw new PathException("policy: control character in path");
                } else if (c == '%') {
                    if (j + 2 >= raw.length || !isHex(raw[j + 1]) || !isHex(raw[j + 2])) {
                        throw new PathException("policy: invalid percent-escape in path");
                    }
                    int b = unhex(raw[j + 1]) << 4 | unhex(raw[j + 2]);
                    if (isUnreserved(b)) {
                        out[n++] = (byte) b;
                        changed = true;
                    } else {
                        out = ensure(out, n + 3);
                        out[n++] = '%';
                        out[n++] = upperHex(raw[j + 1]);
                        out[n++] = upperHex(raw[j + 2]);
                        if (b == '/' || b == '\\' || b == '%' || b < 0x20 || b >= 0x7f) {
                            suspicious = true;
                        }
                    }
                    j += 2;
                } else if (c >= 0x80 || c == '#' || c == '?') {
                    out[n++] = (byte) c;
                    suspicious = true;
                } else {
                    out[n++] = (byte) c;
                }
            }
            int segLen = n - (segStart + 1);
            boolean last = j >= raw.length;
            if (segLen == 0) {
                n = segStart;
                if (last) {
                    trailing = true;
                } else {
                    changed = true; // "//" merged
                }
            } else if (segLen == 1 && out[segStart + 1] == '.') {
                n = segStart;
                changed = true;
                trailing = last;
            } else if (segLen == 2 && out[segStart + 1] == '.' && out[segStart + 2] == '.') {
                if (ns == 0) {
                    throw new PathException("policy: '..' above the root");
                }
                n = starts[ns - 1] - 1;
                ns--;
                changed = true;
                trailing = last;
            } else {
                if (out[n - 1] == '.') {
                    suspicious = true;
                }
                if (ns == starts.length) {
                    starts = Arrays.copyOf(starts, ns * 2);
                }
                starts[ns++] = segStart + 1;
            }
            if (last) {
                break;
            }
            if (raw[j] == '\\') {
                changed = true;
            }
            i = j + 1;
        }
        if (n == 0 || trailing) {
            out = ensure(out, n + 1);
            out[n++] = '/';
        }
        return new Result(Arrays.copyOf(out, n), changed, suspicious);
    }

    private static byte[] ensure(byte[] b, int size) {
        return size <= b.length ? b : Arrays.copyOf(b, Math.max(size, b.length * 2));
    }

    /**
     * fastPath reports whether raw is already clean and unambiguous: only printable
     * ASCII other than '%', ';', '\', '#' and '?', no empty segment except a trailing
     * one, and no segment ending in '.' (which also covers "." and "..").
     */
    private static boolean fastPath(byte[] raw) {
        for (int i = 0; i < raw.length; i++) {
            int c = raw[i] & 0xff;
            if (c < 0x20 || c >= 0x7f) {
                return false;
            } else if (c == '%' || c == ';' || c == '\\' || c == '#' || c == '?') {
                return false;
            } else if (c == '/') {
                if (i + 1 < raw.length && raw[i + 1] == '/') {
                    return false;
                }
            } else if (c == '.') {
                if (i + 1 == raw.length || raw[i + 1] == '/') {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isUnreserved(int b) {
        return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
                || b == '-' || b == '.' || b == '_' || b == '~';
    }

    private static boolean isHex(byte c) {
        return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F';
    }

    private static int unhex(byte c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return c - 'A' + 10;
    }

    private static byte upperHex(byte c) {
        return c >= 'a' && c <= 'f' ? (byte) (c - 'a' + 'A') : c;
    }
}
