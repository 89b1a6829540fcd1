package dev.ferry.dns;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DnsQuery;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.Locale;

/**
 * Answers one decoded query (from the UDP or the TCP pipeline): checks it is a single IN question
 * of a standard query, answers from the {@link ClusterZone}, else hands it to the forwarder or
 * refuses it; honours EDNS0's payload size over UDP and echoes an OPT record. Responses are
 * written in wire format by {@link ResponseWriter} straight into a pooled buffer.
 *
 * <p>Sharable and stateless: per-thread state lives in the zone.
 */
@ChannelHandler.Sharable
final class QueryHandler extends SimpleChannelInboundHandler<DnsQuery> {
    static final int FORMERR = 1, NOTIMP = 4, REFUSED = 5, BADVERS = 16;
    private static final int MAX_UDP = 4096;
    private static final int ADVERTISED_UDP = 1232;
    private static final int MAX_TCP = 65535;

    private final ClusterZone zone;
    private final UpstreamForwarder forwarder;
    private final QueryCounters counters;

    QueryHandler(ClusterZone zone, UpstreamForwarder forwarder, QueryCounters counters) {
        this.zone = zone;
        this.forwarder = forwarder;
        this.counters = counters;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DnsQuery query) {
        counters.queries.increment();
        boolean udp = query instanceof DatagramDnsQuery;
        int udpLimit = 512;
        boolean edns = false;
        int ednsVersion = 0;
        int extendedRcode = 0;
        for (int i = 0, n = query.count(DnsSection.ADDITIONAL); i < n; i++) {
            DnsRecord r = query.recordAt(DnsSection.ADDITIONAL, i);
            if (r.type() == DnsRecordType.OPT) {
                edns = true;
                udpLimit = Math.min(MAX_UDP, Math.max(512, r.dnsClass()));
                ednsVersion = (int) ((r.timeToLive() >>> 16) & 0xFF);
            }
        }
        int limit = (udp ? udpLimit : MAX_TCP - 2) - (edns ? ResponseWriter.OPT_SIZE : 0);
        ByteBuf out = ctx.alloc().buffer(udp ? 512 : 1024);
        if (!udp) out.writeShort(0);
        ResponseWriter w = new ResponseWriter(out, limit, udp);
        int id = query.id();
        int opcode = query.opCode().byteValue();
        boolean rd = query.isRecursionDesired();
        w.recursionAvailable(forwarder != null);
        if (query.count(DnsSection.QUESTION) != 1) {
            w.begin(id, opcode, rd, null, 0, 0);
            w.rcode(FORMERR);
            counters.formErrors.increment();
        } else {
            DnsQuestion q = query.recordAt(DnsSection.QUESTION);
            String qname = q.name();
            int qtype = q.type().intValue();
            int qclass = q.dnsClass();
            if (!w.begin(id, opcode, rd, qname, qtype, qclass)) {
                w.rcode(FORMERR);
                counters.formErrors.increment();
            } else if (opcode != 0) {
                w.rcode(NOTIMP);
            } else if (edns && ednsVersion != 0) {
                w.rcode(BADVERS & 0xF); // version 0 is all we speak; the upper rcode bits go in the OPT record
                extendedRcode = BADVERS >>> 4;
            } else if (qclass != ResponseWriter.CLASS_IN) {
                w.rcode(FORMERR);
                counters.formErrors.increment();
            } else {
                String name = lowerNoDot(qname);
                if (zone.answer(name, qtype, w)) {
                    counters.answeredFromTable.increment();
                    if (w.rcode() == ClusterZone.NXDOMAIN) counters.nxdomain.increment();
                } else if (forwarder != null) {
                    counters.forwarded.increment();
                    w.rcode(ClusterZone.SERVFAIL);
                    if (edns) w.opt(ADVERTISED_UDP);
                    int len = w.finish();
                    byte[] servfail = ByteBufUtil.getBytes(out, udp ? 0 : 2, len);
                    out.release();
                    forwarder.forward(name, qname, qtype, qclass, id,
                            new Reply(ctx.channel(), udp ? ((DatagramDnsQuery) query).sender() : null, udpLimit, edns),
                            servfail);
                    return;
                } else {
                    w.rcode(REFUSED);
                    counters.refused.increment();
                }
            }
        }
        if (edns) w.opt(ADVERTISED_UDP, extendedRcode);
        int len = w.finish();
        if (w.truncated() && udp) counters.truncated.increment();
        if (udp) {
            ctx.write(new DatagramPacket(out, ((DatagramDnsQuery) query).sender()));
        } else {
            out.setShort(0, len);
            ctx.write(out);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            ctx.close(); // an idle TCP client holds a connection slot for nothing
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        counters.dropped.increment();
        if (!(ctx.channel() instanceof io.netty.channel.socket.DatagramChannel)) {
            ctx.close(); // an undecodable TCP frame: the stream is out of sync, drop the connection
        }
    }

    private static String lowerNoDot(String qname) {
        int end = qname.endsWith(".") ? qname.length() - 1 : qname.length();
        for (int i = 0; i < end; i++) {
            char c = qname.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                return qname.substring(0, end).toLowerCase(Locale.ROOT);
            }
        }
        return end == qname.length() ? qname : qname.substring(0, end);
    }
}
