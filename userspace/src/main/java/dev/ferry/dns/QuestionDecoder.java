package dev.ferry.dns;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordDecoder;
import io.netty.handler.codec.dns.DnsRecordType;

/**
 * Netty's record decoder, except for questions: Netty's DefaultDnsQuestion runs an IDN conversion
 * on every name (a fifth of the CPU per query in profiles), which a responder that echoes and
 * matches the wire bytes never needs. Question names are decoded here with the same rules (at most
 * 255 bytes, compression pointers only backwards, so no loops); other records go to Netty's
 * decoder. Stateless and thread-safe.
 */
final class QuestionDecoder implements DnsRecordDecoder {
    static final QuestionDecoder INSTANCE = new QuestionDecoder();
    private static final int MAX_NAME = 255;

    private QuestionDecoder() {
    }

    @Override
    public DnsQuestion decodeQuestion(ByteBuf in) {
        String name = decodeName(in);
        int type = in.readUnsignedShort();
        int dnsClass = in.readUnsignedShort();
        return new WireQuestion(name, DnsRecordType.valueOf(type), dnsClass);
    }

    @Override
    public <T extends DnsRecord> T decodeRecord(ByteBuf in) throws Exception {
        return DnsRecordDecoder.DEFAULT.decodeRecord(in);
    }

    /** A dotted name with a trailing dot ("." for the root); throws CorruptedFrameException when malformed. */
    static String decodeName(ByteBuf in) {
        StringBuilder name = new StringBuilder(64);
        int at = in.readerIndex();
        int end = -1;
        int limit = in.writerIndex();
        int bytes = 0;
        while (true) {
            if (at >= limit) throw new CorruptedFrameException("name runs past the end of the packet");
            int len = in.getUnsignedByte(at);
            if (len == 0) {
                at++;
                break;
            }
            if ((len & 0xC0) == 0xC0) {
                if (at + 1 >= limit) throw new CorruptedFrameException("truncated compression pointer");
                int target = ((len & 0x3F) << 8) | in.getUnsignedByte(at + 1);
                if (end < 0) end = at + 2;
                if (target >= at) throw new CorruptedFrameException("compression pointer does not point backwards");
                at = target;
                continue;
            }
            if ((len & 0xC0) != 0) throw new CorruptedFrameException("reserved label type " + (len >> 6));
            bytes += len + 1;
            if (bytes > MAX_NAME) throw new CorruptedFrameException("name longer than 255 bytes");
            if (at + 1 + len > limit) throw new CorruptedFrameException("label runs past the end of the packet");
            for (int i = at + 1; i <= at + len; i++) {
                name.append((char) in.getUnsignedByte(i));
            }
            name.append('.');
            at += 1 + len;
        }
        in.readerIndex(end < 0 ? at : end);
        return name.length() == 0 ? "." : name.toString();
    }

    /** A question as it arrived. Immutable. */
    private record WireQuestion(String name, DnsRecordType type, int dnsClass) implements DnsQuestion {
        @Override
        public long timeToLive() {
            return 0;
        }
    }
}
