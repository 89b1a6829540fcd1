package dev.ferry.bench.table;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Control for {@link ServiceTableLookupBenchmark}: the floor this machine puts under any lookup in
 * a mapped file of the table's size. Lays out a file like the table at {@code servicePorts} (an
 * index of 16-byte slots at 50% load or less, then 1 KiB records) and does what a hit must at least
 * do: read a random index slot, follow it to its record, read the record's header and the
 * frontend 64 bytes further on. No hashing, no validation: memory latency only.
 * {@code slotThenRecord} lets successive lookups overlap in the CPU (as the uniform-key table
 * benchmark could, in principle); {@code slotThenRecordSerialized} does not.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class MappedMemoryBaseline {
    private static final int KEYS = 1 << 16;
    private static final int RECORD = 1024;

    @Param({"100", "10000", "100000"})
    public int servicePorts;

    private Path dir;
    private MappedByteBuffer mapped;
    private UnsafeBuffer buffer;
    private final int[] slotOffset = new int[KEYS];
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        int slots = Integer.highestOneBit(Math.max(1024, servicePorts * 4 - 1)) ; // >= 2x entries, power of two
        int indexBytes = slots * 16;
        long size = (long) indexBytes + (long) servicePorts * RECORD;
        dir = Files.createTempDirectory("ferry-bench-mapped-");
        mapped = IoUtil.mapNewFile(dir.resolve("baseline.bin").toFile(), size, true);
        buffer = new UnsafeBuffer(mapped);
        SplittableRandom rnd = new SplittableRandom(7);
        int[] slotOf = new int[servicePorts];
        for (int i = 0; i < servicePorts; i++) {
            int s;
            do {
                s = rnd.nextInt(slots);
            } while (buffer.getLong(s * 16 + 8) != 0);
            slotOf[i] = s;
            buffer.putLong(s * 16, i + 1L);
            buffer.putLong(s * 16 + 8, indexBytes + (long) i * RECORD);
            buffer.putLong(indexBytes + i * RECORD + 8, i + 1L);
            buffer.putLong(indexBytes + i * RECORD + 72, i * 3L);
        }
        for (int k = 0; k < KEYS; k++) {
            slotOffset[k] = slotOf[rnd.nextInt(servicePorts)] * 16;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        IoUtil.unmap(mapped);
        TableFixture.deleteRecursively(dir);
    }

    @Benchmark
    public long slotThenRecord() {
        int k = next;
        next = (k + 1) & (KEYS - 1);
        int at = slotOffset[k];
        long record = buffer.getLongAcquire(at + 8);
        long key = buffer.getLong(at);
        int r = (int) record;
        return key ^ buffer.getLongAcquire(r + 8) ^ buffer.getLong(r + 72);
    }

    /**
     * The same, but the next key's position depends on this record's contents (the added term is
     * always 0, which the JIT cannot know), so successive lookups cannot overlap: pure latency.
     */
    @Benchmark
    public long slotThenRecordSerialized() {
        int k = next;
        int at = slotOffset[k];
        long record = buffer.getLongAcquire(at + 8);
        long key = buffer.getLong(at);
        int r = (int) record;
        long stamp = buffer.getLongAcquire(r + 8);
        long v = key ^ stamp ^ buffer.getLong(r + 72);
        next = (k + 1 + (int) (stamp >>> 63)) & (KEYS - 1);
        return v;
    }
}
