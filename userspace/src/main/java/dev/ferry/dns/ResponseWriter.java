package dev.ferry.dns;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Writes one DNS response in wire format straight into a buffer: header, the echoed question, then
 * answer, authority and additional records, with the owner name compressed to the question where it
 * is the question. It knows the size limit of the transport (512 bytes or the client's EDNS0 size
 * over UDP, 65535 over TCP): a record that does not fit is not written and the response is marked
 * truncated; over UDP a truncated response keeps only the header and question with TC set (RFC 2181
 * 9), over TCP it keeps the records that fit.
 *
 * <p>Not thread-safe: one writer per response, on the thread that builds it.
 */
final class ResponseWriter {
    static final int HEADER_SIZE = 12;
    static final int CLASS_IN = 1;
    static final int OPT_SIZE = 11;
    private static final int QUESTION_POINTER = 0xC000 | HEADER_SIZE;

    private final ByteBuf buf;
    private final int start;
    private final int limit;
    private final boolean udp;
    private int questionEnd;
    private int ancount;
    private int nscount;
    private int arcount;
    private int rcode;
    private boolean authoritative;
    private boolean recursionAvailable;
    private boolean truncated;

    /**
     * @param limit the largest response the transport allows (already reduced by the room the OPT
     *              record needs when the query carried one)
     */
    ResponseWriter(ByteBuf buf, int limit, boolean udp) {
        this.buf = buf;
        this.start = buf.writerIndex();
        this.limit = limit;
        this.udp = udp;
    }

    /** Writes the header (counts filled in by {@link #finish}) and the question; false when the name cannot be encoded. */
    boolean begin(int id, int opcode, boolean recursionDesired, String qname, int qtype, int qclass) {
        buf.writeShort(id);
        buf.writeShort((1 << 15) | ((opcode & 0xF) << 11) | (recursionDesired ? 1 << 8 : 0));
        buf.writeZero(8);
        if (qname == null) {
            questionEnd = buf.writerIndex();
            return true;
        }
        int mark = buf.writerIndex();
        if (!writeName(qname)) {
            buf.writerIndex(mark);
            questionEnd = mark;
            return false;
        }
        buf.writeShort(qtype);
        buf.writeShort(qclass);
        buf.setShort(start + 4, 1);
        questionEnd = buf.writerIndex();
        return true;
    }

    void rcode(int rcode) {
        this.rcode = rcode;
    }

    int rcode() {
        return rcode;
    }

    void authoritative(boolean aa) {
        this.authoritative = aa;
    }

    void recursionAvailable(boolean ra) {
        this.recursionAvailable = ra;
    }

    boolean truncated() {
        return truncated;
    }

    int answerCount() {
        return ancount;
    }

    /** Sections, in the order records must be added. */
    enum Section { ANSWER, AUTHORITY, ADDITIONAL }

    /** An A or AAAA record (family 4 or 6, address in two big-endian halves as the table stores it). */
    void address(Section section, String owner, int ttl, int family, long hi, long lo) {
        int at = open(section, owner, family == 4 ? 1 : 28, ttl);
        if (at < 0) return;
        if (family == 4) {
            buf.writeShort(4);
            buf.writeInt((int) lo);
        } else {
            buf.writeShort(16);
            buf.writeLong(hi);
            buf.writeLong(lo);
        }
        close(section, at);
    }

    /** A record whose data is one domain name (CNAME 5, PTR 12, NS 2). */
    void name(Section section, String owner, int type, int ttl, String target) {
        int at = open(section, owner, type, ttl);
        if (at < 0) return;
        int len = buf.writerIndex();
        buf.writeShort(0);
        if (!writeName(target)) {
            buf.writerIndex(at);
            return;
        }
        buf.setShort(len, buf.writerIndex() - len - 2);
        close(section, at);
    }

    void srv(Section section, String owner, int ttl, int priority, int weight, int port, String target) {
        int at = open(section, owner, 33, ttl);
        if (at < 0) return;
        int len = buf.writerIndex();
        buf.writeShort(0);
        buf.writeShort(priority);
        buf.writeShort(weight);
        buf.writeShort(port);
        if (!writeName(target)) {
            buf.writerIndex(at);
            return;
        }
        buf.setShort(len, buf.writerIndex() - len - 2);
        close(section, at);
    }

    void txt(Section section, String owner, int ttl, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int at = open(section, owner, 16, ttl);
        if (at < 0) return;
        buf.writeShort(b.length + 1);
        buf.writeByte(b.length);
        buf.writeBytes(b);
        close(section, at);
    }

    void soa(Section section, String owner, int ttl, String mname, String rname, long serial, int refresh, int retry,
             int expire, int minimum) {
        int at = open(section, owner, 6, ttl);
        if (at < 0) return;
        int len = buf.writerIndex();
        buf.writeShort(0);
        if (!writeName(mname) || !writeName(rname)) {
            buf.writerIndex(at);
            return;
        }
        buf.writeInt((int) serial);
        buf.writeInt(refresh);
        buf.writeInt(retry);
        buf.writeInt(expire);
        buf.writeInt(minimum);
        buf.setShort(len, buf.writerIndex() - len - 2);
        close(section, at);
    }

    /** The EDNS0 OPT pseudo-record; its room was reserved out of the limit, so it always fits. */
    void opt(int udpPayloadSize) {
        opt(udpPayloadSize, 0);
    }

    /** The OPT record with the upper 8 bits of a 12-bit extended rcode (BADVERS is 16: 1 here, 0 in the header). */
    void opt(int udpPayloadSize, int extendedRcodeHigh) {
        buf.writeByte(0);
        buf.writeShort(41);
        buf.writeShort(udpPayloadSize);
        buf.writeInt(extendedRcodeHigh << 24);
        buf.writeShort(0);
        arcount++;
    }

    /** Fills in flags and counts; returns the response length. */
    int finish() {
        int flags = buf.getUnsignedShort(start + 2) & 0xF900; // QR, opcode, RD as begun
        if (authoritative) flags |= 1 << 10;
        if (truncated && udp) flags |= 1 << 9;
        if (recursionAvailable) flags |= 1 << 7;
        flags |= rcode & 0xF;
        buf.setShort(start + 2, flags);
        buf.setShort(start + 6, ancount);
        buf.setShort(start + 8, nscount);
        buf.setShort(start + 10, arcount);
        return buf.writerIndex() - start;
    }

    /** Starts a record; -1 when the response is already truncated. */
    private int open(Section section, String owner, int type, int ttl) {
        if (truncated) return -1;
        int at = buf.writerIndex();
        if (owner == null) {
            buf.writeShort(QUESTION_POINTER);
        } else if (!writeName(owner)) {
            buf.writerIndex(at);
            return -1;
        }
        buf.writeShort(type);
        buf.writeShort(CLASS_IN);
        buf.writeInt(ttl);
        return at;
    }

    private void close(Section section, int at) {
        if (buf.writerIndex() - start > limit) {
            truncated = true;
            if (udp) {
                buf.writerIndex(questionEnd);
                ancount = nscount = arcount = 0;
            } else {
                buf.writerIndex(at);
            }
            return;
        }
        switch (section) {
            case ANSWER -> ancount++;
            case AUTHORITY -> nscount++;
            case ADDITIONAL -> arcount++;
        }
    }

    /** Writes a dotted name (trailing dot optional) uncompressed; false when a label or the name is too long. */
    private boolean writeName(String name) {
        byte[] out = SCRATCH.get();
        int at = 0;
        int n = name.length();
        int i = 0;
        while (i < n) {
            int dot = name.indexOf('.', i);
            int end = dot < 0 ? n : dot;
            if (end == i) {
                if (n == 1) break; // the root "."
                return false;      // an empty label
            }
            int lenAt = at++;
            for (int c = i; c < end; c++) {
                char ch = name.charAt(c);
                if (at >= MAX_NAME) return false;
                if (ch < 0x100) { // question names arrive as one char per wire byte
                    out[at++] = (byte) ch;
                } else {
                    byte[] b = String.valueOf(ch).getBytes(StandardCharsets.UTF_8);
                    if (at + b.length >= MAX_NAME) return false;
                    System.arraycopy(b, 0, out, at, b.length);
                    at += b.length;
                }
            }
            int len = at - lenAt - 1;
            if (len > 63) return false;
            out[lenAt] = (byte) len;
            if (dot < 0) break;
            i = dot + 1;
        }
        if (at >= MAX_NAME) return false;
        out[at++] = 0;
        buf.writeBytes(out, 0, at);
        return true;
    }

    private static final int MAX_NAME = 255;
    /** Names are assembled here and written with one bounds check instead of one per byte. */
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[MAX_NAME + 8]);
}
