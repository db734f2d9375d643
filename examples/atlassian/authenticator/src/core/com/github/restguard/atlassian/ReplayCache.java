package com.github.restguard.atlassian;

import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Remembers verified jtis until exp + leeway, when the assertion would be refused
 * as expired anyway. Bounded: when it holds its capacity of unexpired entries it
 * refuses new ones ({@link Reason#REPLAY_CACHE_FULL}) rather than forget one early.
 * Per process: nodes of a cluster do not share it (docs/identity-assertion.md).
 * Thread-safe.
 */
final class ReplayCache {
    private static final class Entry {
        final long forgetAt;
        final String jti;

        Entry(long forgetAt, String jti) {
            this.forgetAt = forgetAt;
            this.jti = jti;
        }
    }

    private final int capacity;
    private final Map<String, Long> seen = new HashMap<>();
    private final PriorityQueue<Entry> queue = new PriorityQueue<>((a, b) -> Long.compare(a.forgetAt, b.forgetAt));

    ReplayCache(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("replay capacity must be positive");
        }
        this.capacity = capacity;
    }

    /** Records jti until forgetAt (Unix seconds); returns null if it was new, else the refusal. */
    synchronized Reason remember(String jti, long forgetAt, long now) {
        while (!queue.isEmpty() && queue.peek().forgetAt <= now) {
            seen.remove(queue.poll().jti);
        }
        if (seen.containsKey(jti)) {
            return Reason.REPLAYED;
        }
        if (seen.size() >= capacity) {
            return Reason.REPLAY_CACHE_FULL;
        }
        seen.put(jti, forgetAt);
        queue.add(new Entry(forgetAt, jti));
        return null;
    }

    synchronized int size() {
        return seen.size();
    }
}
