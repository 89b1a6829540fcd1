package dev.ferry.dns;

import java.util.Arrays;

/**
 * A bounds-checked walk over a DNS message in wire format that finds what forwarding needs without
 * decoding records: the end of the question section (to truncate), the rcode and TC bit, and the
 * offset of every record's TTL (to count them down in the cache). OPT records are skipped: their
 * TTL field holds EDNS flags. Immutable result; the walk itself is stateless.
 */
record WireScan(int rcode, boolean truncated, int questionEnd, int[] ttlOffsets, long minTtl, int optStart, int optEnd) {
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
        int optStart = -1;
        int optEnd = -1;
        for (int i = 0; i < records; i++) {
            int recordStart = at;
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
            if (type == 41) {
                optStart = recordStart;
                optEnd = at;
            }
        }
        return new WireScan(m[3] & 0xF, (m[2] & 0x02) != 0, questionEnd, Arrays.copyOf(offsets, n),
                n == 0 ? 0 : minTtl, optStart, optEnd);
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

    /**
     * The message without its OPT record, for a client that sent none (RFC 6891 6.1.1: a responder
     * must not add one then). The OPT record sits in the additional section, whose count drops by one.
     */
    static byte[] withoutOpt(byte[] m, WireScan scan) {
        if (scan.optStart() < 0) return m;
        byte[] out = new byte[m.length - (scan.optEnd() - scan.optStart())];
        System.arraycopy(m, 0, out, 0, scan.optStart());
        System.arraycopy(m, scan.optEnd(), out, scan.optStart(), m.length - scan.optEnd());
        int arcount = u16(out, 10) - 1;
        out[10] = (byte) (arcount >>> 8);
        out[11] = (byte) arcount;
        return out;
    }

    /** Header and question only, with TC set and no records: what a UDP client gets when the answer is too big. */
    static byte[] truncate(byte[] m, int questionEnd) {
        byte[] out = Arrays.copyOf(m, questionEnd);
        out[2] |= 0x02;
        for (int i = 6; i < 12; i++) out[i] = 0;
        return out;
    }
}
