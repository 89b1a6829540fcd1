package dev.ferry.lb;

/**
 * Allocation-free 64-bit hashes of addresses and ports, the keys that {@link Scheduler#pick} takes.
 *
 * <p>Pure functions, thread-safe. The mixer is the finaliser of MurmurHash3 (fmix64): every input
 * bit affects every output bit, so the schedulers can use the low and the high halves separately.
 * Not a keyed hash: a client that can choose its source address can choose its backend, as with
 * IPVS's {@code sh}.
 */
public final class FlowHash {
    private FlowHash() {}

    /** An IPv4 address, as the int holding its four bytes in network order. */
    public static long ipv4(int address) {
        return mix(0x1_0000_0000L | (address & 0xFFFF_FFFFL));
    }

    /** An IPv6 address, as its high and low 64 bits in network order. */
    public static long ipv6(long high, long low) {
        return mix(mix(high ^ 0x6A09_E667_F3BC_C908L) ^ low);
    }

    /** Folds a port (or any small number) into an address hash: one client, several flows. */
    public static long withPort(long addressHash, int port) {
        return mix(addressHash ^ ((port & 0xFFFFL) * 0x9E37_79B9_7F4A_7C15L));
    }

    /** MurmurHash3's fmix64. */
    public static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xFF51_AFD7_ED55_8CCDL;
        h ^= h >>> 33;
        h *= 0xC4CE_B9FE_1A85_EC53L;
        h ^= h >>> 33;
        return h;
    }

    /** Maps the low 32 bits of a hash onto {@code 0..n-1} without division (Lemire's multiply-shift). */
    static int reduce(long hash, int n) {
        return (int) (((hash & 0xFFFF_FFFFL) * n) >>> 32);
    }

    /** First of Maglev's two name hashes: FNV-1a over the UTF-16 chars, then mixed. */
    static long nameHash1(String name) {
        long h = 0xCBF2_9CE4_8422_2325L;
        for (int i = 0; i < name.length(); i++) {
            h ^= name.charAt(i);
            h *= 0x0000_0100_0000_01B3L;
        }
        return mix(h);
    }

    /**
     * Second of Maglev's name hashes: a different function (a polynomial over the chars with
     * another multiplier and seed), so that offset and skip are independent, as the paper asks.
     */
    static long nameHash2(String name) {
        long h = 0x2545_F491_4F6C_DD1DL;
        for (int i = 0; i < name.length(); i++) {
            h = (h + name.charAt(i)) * 0x9E37_79B9_7F4A_7C15L;
            h ^= h >>> 29;
        }
        return mix(h ^ name.length());
    }
}
