package dev.ferry.table;

import static dev.ferry.table.TableLayout.BLOCK_HEADER;
import static dev.ferry.table.TableLayout.EMPTY;
import static dev.ferry.table.TableLayout.I_CAPACITY;
import static dev.ferry.table.TableLayout.I_SLOTS;
import static dev.ferry.table.TableLayout.SLOT_SIZE;
import static dev.ferry.table.TableLayout.TOMBSTONE;

import org.agrona.concurrent.AtomicBuffer;

/**
 * The table's one open-addressing probe: linear probing from {@code hash & (capacity - 1)} over an
 * index block's 16-byte slots (hash, value), where a value of {@link TableLayout#EMPTY} ends a chain
 * and {@link TableLayout#TOMBSTONE} is skipped. The writer's and the readers' lookups by frontend and
 * by name walk the candidates it yields and check only what the slot points at; inserts ask it for a
 * free slot. Stateless and allocation-free: the cursor is a long (probes done, slot offset).
 *
 * <pre>{@code
 * for (long c = IndexProbe.first(buffer, index, hash); c >= 0; c = IndexProbe.next(buffer, index, hash, c)) {
 *     int at = IndexProbe.slot(c);   // buffer.getLong(at) == hash; the value is at at + 8
 *     if (pointsAtTheKey(buffer.getLongAcquire(at + 8))) return at;
 * }
 * }</pre>
 */
final class IndexProbe {
    private IndexProbe() {}

    /** The first live slot of index whose hash is hash, as a cursor, or -1 when there is none. */
    static long first(AtomicBuffer buffer, int index, long hash) {
        int capacity = buffer.getInt(index + BLOCK_HEADER + I_CAPACITY);
        return scan(buffer, index + BLOCK_HEADER + I_SLOTS, capacity, hash, (int) hash & (capacity - 1), 0);
    }

    /** The candidate after cursor, or -1 when the chain ends (an empty slot, or every slot probed). */
    static long next(AtomicBuffer buffer, int index, long hash, long cursor) {
        int capacity = buffer.getInt(index + BLOCK_HEADER + I_CAPACITY);
        int slots = index + BLOCK_HEADER + I_SLOTS;
        int slot = (slot(cursor) - slots) / SLOT_SIZE;
        return scan(buffer, slots, capacity, hash, (slot + 1) & (capacity - 1), (int) (cursor >>> 32) + 1);
    }

    /** The absolute offset of the cursor's slot (its hash at +0, its value at +8). */
    static int slot(long cursor) {
        return (int) cursor;
    }

    private static long scan(AtomicBuffer buffer, int slots, int capacity, long hash, int slot, int probes) {
        int mask = capacity - 1;
        for (; probes < capacity; probes++) {
            int at = slots + slot * SLOT_SIZE;
            long value = buffer.getLongAcquire(at + 8);
            if (value == EMPTY) {
                return -1;
            }
            if (value != TOMBSTONE && buffer.getLong(at) == hash) {
                return ((long) probes << 32) | at;
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    /**
     * The absolute offset of the slot an insert of hash takes: the first empty or tombstoned slot
     * of its chain. The caller keeps the index under half full, so there is one.
     */
    static int freeSlot(AtomicBuffer buffer, int index, long hash) {
        int slots = index + BLOCK_HEADER + I_SLOTS;
        int capacity = buffer.getInt(index + BLOCK_HEADER + I_CAPACITY);
        int mask = capacity - 1;
        int slot = (int) hash & mask;
        for (int probes = 0; probes < capacity; probes++) {
            int at = slots + slot * SLOT_SIZE;
            long value = buffer.getLong(at + 8);
            if (value == EMPTY || value == TOMBSTONE) {
                return at;
            }
            slot = (slot + 1) & mask;
        }
        throw new IllegalStateException("index at " + index + " has no free slot among " + capacity);
    }
}
