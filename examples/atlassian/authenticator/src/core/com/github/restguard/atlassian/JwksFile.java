package com.github.restguard.atlassian;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * restguard's JWKS, read from a file that is shipped to the product host (the
 * product may not reach restguard). Every call to {@link #get()} compares the file's
 * identity, modification time and size with the loaded version and reloads it when
 * any changed, so a rotation that rewrites the file (restguard writes it atomically,
 * by rename) takes effect on the next request without a restart.
 *
 * <p>A file that is missing or fails to parse never replaces a good key set: the last
 * good one stays in use and the problem is logged once per version. Before any good
 * load the key set is empty, so every assertion is refused (unknown_key): fail closed.
 */
public final class JwksFile implements Supplier<KeySet> {
    private static final Logger LOG = Logger.getLogger(JwksFile.class.getName());

    private final Path path;
    private volatile KeySet current = KeySet.EMPTY;
    private Object loadedVersion; // guarded by this
    private Object failedVersion; // guarded by this

    /** Watches path; loads it now if it is there. */
    public JwksFile(Path path) {
        this.path = Objects.requireNonNull(path, "path");
        get();
    }

    /** The current key set, reloaded first if the file changed. */
    @Override
    public KeySet get() {
        Object version;
        try {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
            version = java.util.List.of(String.valueOf(a.fileKey()), a.lastModifiedTime(), a.size());
        } catch (IOException e) {
            noteFailure("missing", "restguard key set " + path + " cannot be read; keeping the last good key set");
            return current;
        }
        synchronized (this) {
            if (version.equals(loadedVersion) || version.equals(failedVersion)) {
                return current;
            }
            try {
                KeySet ks = KeySet.parse(read());
                current = ks;
                loadedVersion = version;
                failedVersion = null;
                LOG.info(() -> "restguard key set " + path + " loaded: kids " + ks.keyIds());
            } catch (IOException | KeySet.KeySetException e) {
                failedVersion = version;
                LOG.log(Level.WARNING, "restguard key set {0} is invalid ({1}); keeping the last good key set",
                        new Object[] {path, e.getMessage()});
            }
            return current;
        }
    }

    private synchronized void noteFailure(Object version, String message) {
        if (!version.equals(failedVersion)) {
            failedVersion = version;
            loadedVersion = null;
            LOG.warning(message);
        }
    }

    private byte[] read() throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] data = in.readNBytes(KeySet.MAX_BYTES + 1);
            if (data.length > KeySet.MAX_BYTES) {
                throw new IOException("larger than " + KeySet.MAX_BYTES + " bytes");
            }
            return data;
        }
    }
}
