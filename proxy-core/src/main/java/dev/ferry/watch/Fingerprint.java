package dev.ferry.watch;

import dev.ferry.model.ServicePort;

/**
 * A 64-bit FNV-1a hash of a service port's full textual form (every field, every endpoint and its
 * selection flags): equal ports have equal prints, and a change is missed only on a 64-bit collision.
 * Lets the tracker tell changed ports without keeping converted objects. Cold path; thread-safe.
 */
final class Fingerprint {
    private static final long OFFSET = 0xcbf29ce484222325L;
    private static final long PRIME = 0x100000001b3L;

    private Fingerprint() {}

    static long of(ServicePort sp) {
        String s = sp.toString();
        long h = OFFSET;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            h = (h ^ (c & 0xff)) * PRIME;
            h = (h ^ (c >>> 8)) * PRIME;
        }
        return h == 0 ? 1 : h;
    }
}
