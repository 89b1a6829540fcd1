package dev.ferry.dns;

import java.util.Arrays;

/**
 * A bounds-checked walk over a DNS message in wire format that finds what forwarding needs without
 * decoding records: the end of the question section (to truncate), the rcode and TC bit, and the
 * offset of every record's TTL (to count them down in the cache). OPT records are skipped: their
 * TTL field holds EDNS flags. Immutable result; the walk itself is stateless.
 */
record WireScan(int rcode, boolean truncated, int questionEnd, int[] ttlOffsets, long minTtl) {
    private static final int MAX_RECORDS = 1024;

    /** Null when the message is malformed (a name runs off the end, a record is cut short, ...). */
    static WireScan of(byte[] m) {
        if (m.length < ResponseWriter.HEADER_SIZE) return null;
        int qd = u16(m, 4);
        int records = u16(m, 6) + u16(m, 8) + u16(m, 10);
        if (qd > 1 || records > MAX_RECORDS) return null;
        int at = ResponseWriter.HEADER_SIZE;
        for (int i = 0; i < qd; i++) {
            at = skipName(m, at);
            if (at < 0 || at + 4 > m.length) return null;
            at += 4;
        }
        int questionEnd = at;
        int[] offsets = new int[records];
        int n = 0;
        long minTtl = Long.MAX_VALUE;
        for (int i = 0; i < records; i++) {
            at = skipName(m, at);
            if (at < 0 || at + 10 > m.length) return null;
            int type = u16(m, at);
            long ttl = ForwardCache.readInt(m, at + 4) & 0xFFFFFFFFL;
            int rdlength = u16(m, at + 8);
            if (type != 41) {
                offsets[n++] = at + 4;
                minTtl = Math.min(minTtl, ttl);
            }
            at += 10 + rdlength;
            if (at > m.length) return null;
        }
        return new WireScan(m[3] & 0xF, (m[2] & 0x02) != 0, questionEnd, Arrays.copyOf(offsets, n),
                n == 0 ? 0 : minTtl);
    }

    /** The first byte after the name at {@code at}; -1 when it is malformed. */
    private static int skipName(byte[] m, int at) {
        for (int labels = 0; labels < 128; labels++) {
            if (at >= m.length) return -1;
            int len = m[at] & 0xff;
            if (len == 0) return at + 1;
            if ((len & 0xC0) == 0xC0) return at + 2 <= m.length ? at + 2 : -1;
            if ((len & 0xC0) != 0) return -1;
            at += 1 + len;
        }
        return -1;
    }

    static int u16(byte[] m, int at) {
        return ((m[at] & 0xff) << 8) | (m[at + 1] & 0xff);
    }

    /** Header and question only, with TC set and no records: what a UDP client gets when the answer is too big. */
    static byte[] truncate(byte[] m, int questionEnd) {
        byte[] out = Arrays.copyOf(m, questionEnd);
        out[2] |= 0x02;
        for (int i = 6; i < 12; i++) out[i] = 0;
        return out;
    }
}
