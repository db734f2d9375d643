package com.github.restguard.atlassian;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * A small test runner (no JUnit: the example uses the JDK only). Runs every suite,
 * prints one line per test, and exits non-zero when any test fails.
 *
 * <pre>java -cp classes com.github.restguard.atlassian.TestMain testdata/vectors.json</pre>
 */
public final class TestMain {
    /** A named test. */
    interface Test {
        void run() throws Exception;
    }

    private final List<String> failures = new ArrayList<>();
    private int passed;

    void test(String name, Test t) {
        try {
            t.run();
            passed++;
            System.out.println("ok   " + name);
        } catch (Throwable e) {
            failures.add(name);
            System.out.println("FAIL " + name + ": " + e);
            for (StackTraceElement el : e.getStackTrace()) {
                if (el.getClassName().startsWith("com.github.restguard")) {
                    System.out.println("       at " + el);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: TestMain path/to/vectors.json");
            System.exit(2);
        }
        Vectors vectors = Vectors.load(Files.readAllBytes(Path.of(args[0])));
        LogCapture logs = LogCapture.install();
        TestMain t = new TestMain();
        CoreTests.run(t, vectors);
        VectorTests.run(t, vectors);
        SeraphTests.run(t, vectors);
        BitbucketTests.run(t, vectors);
        t.test("logs: refusals are logged with their reason, never with the assertion", () -> {
            check(logs.lines.stream().anyMatch(l -> l.contains("refused: replayed")), "no refusal was logged");
            for (Vectors.Vector v : vectors.vectors) {
                int dot = v.assertion.lastIndexOf('.');
                String signature = dot < 0 ? "" : v.assertion.substring(dot + 1);
                for (String line : logs.lines) {
                    check(v.assertion.length() < 16 || !line.contains(v.assertion), "a log line holds an assertion: " + line);
                    check(signature.length() < 16 || !line.contains(signature), "a log line holds a signature: " + line);
                }
            }
        });
        System.out.println();
        System.out.println(t.passed + " passed, " + t.failures.size() + " failed");
        if (!t.failures.isEmpty()) {
            System.out.println("failed: " + t.failures);
            System.exit(1);
        }
    }

    /** Keeps every log record instead of printing it. */
    static final class LogCapture extends Handler {
        final List<String> lines = new ArrayList<>();
        private final SimpleFormatter formatter = new SimpleFormatter();

        static LogCapture install() {
            Logger root = Logger.getLogger("");
            for (Handler h : root.getHandlers()) {
                root.removeHandler(h);
            }
            LogCapture c = new LogCapture();
            root.addHandler(c);
            root.setLevel(Level.ALL);
            return c;
        }

        @Override
        public synchronized void publish(LogRecord r) {
            lines.add(r.getLevel() + " " + r.getLoggerName() + ": " + formatter.formatMessage(r));
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    // Checks.

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static void equal(Object got, Object want, String what) {
        if (got == null ? want != null : !got.equals(want)) {
            throw new AssertionError(what + ": got " + got + ", want " + want);
        }
    }
}
