package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class FlowHashTest {
    @Test
    void consecutiveIpv4AddressesSpreadOverBothHalvesOfTheHash() {
        long[] low = new long[64];
        long[] high = new long[64];
        for (int i = 0; i < 640_000; i++) {
            long h = FlowHash.ipv4(0x0A00_0000 + i);
            low[(int) (h & 63)]++;
            high[(int) (h >>> 58)]++;
        }
        ChiSquare.assertUniform("low 6 bits", low);
        ChiSquare.assertUniform("high 6 bits", high);
    }

    @Test
    void ipv6AddressesDifferingInEitherHalfHashApart() {
        long[] buckets = new long[64];
        for (int i = 0; i < 320_000; i++) {
            buckets[(int) (FlowHash.ipv6(0x2001_0db8_0000_0000L + i, 1) >>> 58)]++;
            buckets[(int) (FlowHash.ipv6(0x2001_0db8_0000_0000L, i) >>> 58)]++;
        }
        ChiSquare.assertUniform("IPv6, high or low half counting", buckets);
    }

    @Test
    void portsSeparateFlowsOfOneClient() {
        long client = FlowHash.ipv4(0x0A00_0001);
        assertNotEquals(FlowHash.withPort(client, 40000), FlowHash.withPort(client, 40001));
        assertNotEquals(FlowHash.ipv4(0), FlowHash.ipv6(0, 0));
    }
}
