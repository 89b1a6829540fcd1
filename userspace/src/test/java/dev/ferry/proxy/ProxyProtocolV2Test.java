package dev.ferry.proxy;

import static dev.ferry.proxy.Services.ip;
import static org.junit.jupiter.api.Assertions.*;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ProxyProtocolV2Test {

    @Test
    void ipv4HeaderMatchesTheSpecExample() {
        ByteBuf out = Unpooled.buffer();
        ProxyProtocolV2.write(out, new InetSocketAddress(ip("10.1.2.3"), 40000), new InetSocketAddress(ip("10.96.0.10"), 443));
        assertEquals(28, out.readableBytes());
        assertEquals(ProxyProtocolV2.length(ip("10.1.2.3")), out.readableBytes());
        assertEquals("0d0a0d0a000d0a515549540a" + "21" + "11" + "000c" + "0a010203" + "0a60000a" + "9c40" + "01bb",
                ByteBufUtil.hexDump(out));
    }

    @Test
    void ipv6HeaderCarriesBothAddressesAndPorts() {
        ByteBuf out = Unpooled.buffer();
        ProxyProtocolV2.write(out, new InetSocketAddress(ip("fd00::1"), 1), new InetSocketAddress(ip("fd00::2"), 2));
        assertEquals(52, out.readableBytes());
        assertEquals(0x21, out.getUnsignedByte(13), "TCP over IPv6");
        assertEquals(36, out.getUnsignedShort(14));
        assertEquals(1, out.getUnsignedShort(48));
        assertEquals(2, out.getUnsignedShort(50));
    }

    @Test
    void mixedFamiliesAreWrittenAsV4MappedIpv6() {
        ByteBuf out = Unpooled.buffer();
        ProxyProtocolV2.write(out, new InetSocketAddress(ip("10.0.0.1"), 1), new InetSocketAddress(ip("fd00::2"), 2));
        assertEquals(0x21, out.getUnsignedByte(13));
        assertEquals("00000000000000000000ffff0a000001", ByteBufUtil.hexDump(out, 16, 16));
    }
}
