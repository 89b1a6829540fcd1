package dev.ferry.table;

import static dev.ferry.table.TableLayout.BLOCK_HEADER;
import static dev.ferry.table.TableLayout.I_CAPACITY;
import static dev.ferry.table.TableLayout.I_SLOTS;
import static dev.ferry.table.TableLayout.SLOT_SIZE;
import static dev.ferry.table.TableLayout.TOMBSTONE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** The one probe over the table's index blocks: which slots it yields, where it stops, where an insert goes. */
class IndexProbeTest {
    private static final int INDEX = 64; // the index block's offset in the buffer
    private static final int CAPACITY = 8;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(INDEX + BLOCK_HEADER + I_SLOTS + CAPACITY * SLOT_SIZE));

    IndexProbeTest() {
        buffer.putInt(INDEX + BLOCK_HEADER + I_CAPACITY, CAPACITY);
    }

    private int at(int slot) {
        return INDEX + BLOCK_HEADER + I_SLOTS + slot * SLOT_SIZE;
    }

    private void put(int slot, long hash, long value) {
        buffer.putLong(at(slot), hash);
        buffer.putLong(at(slot) + 8, value);
    }

    private List<Integer> candidates(long hash) {
        List<Integer> out = new ArrayList<>();
        for (long c = IndexProbe.first(buffer, INDEX, hash); c >= 0; c = IndexProbe.next(buffer, INDEX, hash, c)) {
            out.add((IndexProbe.slot(c) - at(0)) / SLOT_SIZE);
        }
        return out;
    }

    @Test
    void yieldsEverySlotOfTheHashInChainOrderSkippingTombstonesAndOthersAndWrapping() {
        long hash = 6; // home slot 6
        put(6, hash, 100);
        put(7, 99, 101);         // another key's slot in the chain
        put(0, hash, TOMBSTONE); // removed: skipped, the chain goes on
        put(1, hash, 102);       // wrapped round the end
        put(3, hash, 103);       // after the empty slot 2: not reached
        assertEquals(List.of(6, 1), candidates(hash));
        assertEquals(List.of(), candidates(5), "an empty home slot ends the chain at once");
    }

    @Test
    void aFullIndexIsProbedOnceRoundAndNoMore() {
        for (int s = 0; s < CAPACITY; s++) {
            put(s, s == 3 ? 11 : 99, 200 + s);
        }
        assertEquals(List.of(3), candidates(11));
        assertEquals(List.of(), candidates(12));
        assertThrows(IllegalStateException.class, () -> IndexProbe.freeSlot(buffer, INDEX, 12));
    }

    @Test
    void anInsertTakesTheFirstEmptyOrTombstonedSlotOfItsChain() {
        put(2, 2, 300);
        put(3, 9, TOMBSTONE);
        put(4, 2, 301);
        assertEquals(at(3), IndexProbe.freeSlot(buffer, INDEX, 2));
        put(3, 2, 302);
        assertEquals(at(5), IndexProbe.freeSlot(buffer, INDEX, 10)); // home 2, past the live 2..4
    }
}
