package dev.ferry.table;

/**
 * Hash of a service port's identity (namespace, name, port name, protocol) computed from chars, so
 * the writer (from Strings) and allocation-free readers (from any CharSequence) agree.
 */
final class NameHash {
    private NameHash() {}

    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    static long of(CharSequence namespace, CharSequence name, CharSequence portName, int protocol) {
        long h = FNV_OFFSET;
        h = chars(h, namespace);
        h = (h ^ '/') * FNV_PRIME;
        h = chars(h, name);
        h = (h ^ ':') * FNV_PRIME;
        h = chars(h, portName);
        h = (h ^ (0x100 + protocol)) * FNV_PRIME;
        h = AddressBits.mix(h);
        return h == 0 ? 1 : h;
    }

    private static long chars(long h, CharSequence s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            h = (h ^ s.charAt(i)) * FNV_PRIME;
        }
        return h;
    }
}
