package dev.ferry.table;

import static dev.ferry.table.TableLayout.*;

import java.lang.invoke.VarHandle;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.agrona.concurrent.AtomicBuffer;

/**
 * Power-of-two block allocator inside the mapped file, with all of its state in the file's header
 * and in the blocks themselves (nothing on the heap grows with the table).
 *
 * <p>A freed block goes to a FIFO limbo list and becomes reusable only after {@code graceMillis}:
 * readers that found it just before it was unlinked finish with it long before then, and the stamp
 * check in {@link ServicePortView#isValid()} catches the rest. Only the writer thread calls this.
 */
final class BlockAllocator {
    private final AtomicBuffer buffer;
    private final long capacity;
    private final long graceMillis;
    private final LongSupplier clock;
    private final String fileName;
    private final LongConsumer backing;

    /** {@code backing} is called with the end of every new block before any byte of it is written. */
    BlockAllocator(AtomicBuffer buffer, long capacity, long graceMillis, LongSupplier clock, String fileName,
                   LongConsumer backing) {
        this.buffer = buffer;
        this.backing = backing;
        this.capacity = capacity;
        this.graceMillis = graceMillis;
        this.clock = clock;
        this.fileName = fileName;
    }

    static int sizeClassFor(long bytes) {
        long need = Math.max(bytes, 1L << MIN_SIZE_CLASS);
        return 64 - Long.numberOfLeadingZeros(need - 1);
    }

    /** Returns the offset of a block whose payload holds payloadBytes; its stamp is 0 (unpublished). */
    int allocate(int payloadBytes, int kind) {
        int sizeClass = sizeClassFor((long) payloadBytes + BLOCK_HEADER);
        if (sizeClass >= SIZE_CLASSES) {
            throw new TableFullException("record of " + payloadBytes + " bytes is too large for the service table");
        }
        reclaim();
        int head = H_FREE_LISTS + sizeClass * 8;
        long block = buffer.getLong(head);
        if (block != 0) {
            buffer.putLong(head, buffer.getLong((int) block + B_LIMBO_NEXT));
        } else {
            long bump = buffer.getLong(H_BUMP);
            long size = 1L << sizeClass;
            if (bump + size > capacity) {
                throw new TableFullException("service table " + fileName + " is full (" + capacity
                        + " bytes); restart with a larger --table-size");
            }
            backing.accept(bump + size); // throws, with nothing changed, when the disk is full
            block = bump;
            buffer.putLong(H_BUMP, bump + size);
        }
        int b = (int) block;
        buffer.putLongRelease(b + B_STAMP, 0L);
        // Seqlock discipline: the zero stamp must be visible before any new payload byte is.
        VarHandle.storeStoreFence();
        buffer.putInt(b + B_SIZE_CLASS, sizeClass);
        buffer.putInt(b + B_KIND, kind);
        buffer.putLong(b + B_LIMBO_NEXT, 0L);
        buffer.putLong(b + B_FREED_AT, 0L);
        return b;
    }

    /** Largest payload a block can hold. */
    int payloadCapacity(int block) {
        return (1 << buffer.getInt(block + B_SIZE_CLASS)) - BLOCK_HEADER;
    }

    /** Unlinks a block: readers may still be in it, so it waits out the grace period in limbo. */
    void free(int block) {
        buffer.putLong(block + B_LIMBO_NEXT, 0L);
        buffer.putLong(block + B_FREED_AT, clock.getAsLong());
        long tail = buffer.getLong(H_LIMBO_TAIL);
        if (tail == 0) {
            buffer.putLong(H_LIMBO_HEAD, block);
        } else {
            buffer.putLong((int) tail + B_LIMBO_NEXT, block);
        }
        buffer.putLong(H_LIMBO_TAIL, block);
    }

    /** Moves blocks whose grace period has passed from limbo to their free lists (oldest first, stops at the first young one). */
    void reclaim() {
        long now = clock.getAsLong();
        long head = buffer.getLong(H_LIMBO_HEAD);
        while (head != 0) {
            int b = (int) head;
            if (now - buffer.getLong(b + B_FREED_AT) < graceMillis) {
                break;
            }
            long next = buffer.getLong(b + B_LIMBO_NEXT);
            // Invalidate before the block can be handed out again: late readers' stamp check fails.
            buffer.putLongRelease(b + B_STAMP, 0L);
            VarHandle.storeStoreFence();
            int freeHead = H_FREE_LISTS + buffer.getInt(b + B_SIZE_CLASS) * 8;
            buffer.putLong(b + B_LIMBO_NEXT, buffer.getLong(freeHead));
            buffer.putLong(freeHead, b);
            head = next;
        }
        buffer.putLong(H_LIMBO_HEAD, head);
        if (head == 0) {
            buffer.putLong(H_LIMBO_TAIL, 0L);
        }
    }

    long bytesInUse() {
        return buffer.getLong(H_BUMP);
    }
}
