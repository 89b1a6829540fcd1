package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class AddressHashTest {
    @Test
    void sameSourceAlwaysGetsTheSameBackend() {
        Scheduler sh = AddressHash.bySource(TestBackends.uniform(10));
        SplittableRandom random = new SplittableRandom(1);
        for (int c = 0; c < 1000; c++) {
            long client = FlowHash.ipv4(random.nextInt());
            int first = sh.pick(client, random.nextLong());
            for (int i = 0; i < 5; i++) {
                assertEquals(first, sh.pick(client, random.nextLong()), "client " + c + ", destination varies");
            }
        }
    }

    @Test
    void sameDestinationAlwaysGetsTheSameBackend() {
        Scheduler dh = AddressHash.byDestination(TestBackends.uniform(10));
        SplittableRandom random = new SplittableRandom(2);
        for (int d = 0; d < 1000; d++) {
            long destination = FlowHash.ipv4(random.nextInt());
            int first = dh.pick(random.nextLong(), destination);
            for (int i = 0; i < 5; i++) {
                assertEquals(first, dh.pick(random.nextLong(), destination), "destination " + d + ", source varies");
            }
        }
    }

    @Test
    void sourcesSpreadEvenly() {
        Backends b = TestBackends.uniform(100);
        Scheduler sh = AddressHash.bySource(b);
        long[] picks = new long[b.size()];
        // Consecutive client addresses, the worst case for a weak hash.
        for (int i = 0; i < 1_000_000; i++) {
            picks[sh.pick(FlowHash.ipv4(0x0A00_0000 + i), 0)]++;
        }
        ChiSquare.assertUniform("sh over 10.0.0.0/12", picks);
    }

    @Test
    void rawAddressesSpreadEvenlyToo() {
        Backends b = TestBackends.uniform(7);
        Scheduler dh = AddressHash.byDestination(b);
        long[] picks = new long[b.size()];
        for (int i = 0; i < 700_000; i++) {
            picks[dh.pick(0, 0xC0A8_0000L + i)]++;
        }
        ChiSquare.assertUniform("dh over unhashed consecutive addresses", picks);
    }

    @Test
    void sourcesSpreadInProportionToWeight() {
        Backends b = TestBackends.weighted(1, 2, 3, 10, 1, 65_535);
        Scheduler sh = AddressHash.bySource(b);
        long[] picks = new long[b.size()];
        // The keys are the input: a fixed seed.
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 3_000_000; i++) {
            picks[sh.pick(FlowHash.ipv6(0x2001_0db8_0000_0000L, random.nextLong()), 0)]++;
        }
        ChiSquare.assertFits("weighted sh over random IPv6 clients", picks, TestBackends.weightsOf(b));
    }

    @Test
    void emptySetPicksNoBackend() {
        assertEquals(Scheduler.NO_BACKEND, AddressHash.bySource(Backends.EMPTY).pick(1, 2));
        assertEquals(Scheduler.NO_BACKEND, AddressHash.byDestination(Backends.EMPTY).pick(1, 2));
    }
}
