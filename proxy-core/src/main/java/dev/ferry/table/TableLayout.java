package dev.ferry.table;

/**
 * Byte layout of the mapped service table file, shared by the writer and every reader (in this
 * process or another). All integers are little-endian (Agrona's native order on x86/arm64).
 *
 * <pre>
 * file   = header (4096 bytes) | blocks ...
 * block  = block header (32 bytes) | payload
 *          block header: sizeClass:int, kind:int, stamp:long, limboNext:long, freedAtMillis:long
 * index  = block payload: capacity:int, pad:int, slots[capacity] of (hash:long, value:long)
 * record = block payload (see RecordLayout)
 * </pre>
 *
 * <p>Readers follow offsets published with release stores and read with acquire loads: a record is
 * fully written before any index slot or header field points at it, and it is never changed while
 * live. A freed block sits in limbo for a grace period before reuse; its stamp lets readers detect
 * the (rare, late) case where they read a block that was reused under them.
 */
final class TableLayout {
    private TableLayout() {}

    static final long MAGIC = 0x4C42545952524546L; // "FERRYTBL" in little-endian bytes
    static final int VERSION = 1;
    static final String FILE_NAME = "services.tbl";
    static final String LOCK_FILE_NAME = "services.lock";

    // Header fields.
    static final int H_MAGIC = 0;
    static final int H_VERSION = 8;
    static final int H_WRITER_PID = 16;
    static final int H_STARTED_MILLIS = 24;
    static final int H_HEARTBEAT_MILLIS = 32;
    static final int H_CLOSED = 40;
    static final int H_GENERATION = 48;
    static final int H_FRONTEND_INDEX = 56;
    static final int H_NAME_INDEX = 64;
    static final int H_BUMP = 72;
    static final int H_SERVICE_PORTS = 80;
    static final int H_ENDPOINTS = 88;
    static final int H_LIMBO_HEAD = 96;
    static final int H_LIMBO_TAIL = 104;
    static final int H_CAPACITY = 112;
    static final int H_UPDATED_MILLIS = 120;
    static final int H_FREE_LISTS = 256; // one long per size class
    static final int SIZE_CLASSES = 32;
    static final int HEADER_SIZE = 4096;

    // Block header fields (relative to the block start).
    static final int B_SIZE_CLASS = 0;
    static final int B_KIND = 4;
    static final int B_STAMP = 8;
    static final int B_LIMBO_NEXT = 16;
    static final int B_FREED_AT = 24;
    static final int BLOCK_HEADER = 32;
    static final int MIN_SIZE_CLASS = 6; // 64-byte blocks

    static final int KIND_RECORD = 1;
    static final int KIND_INDEX = 2;

    // Index block payload.
    static final int I_CAPACITY = 0;
    static final int I_SLOTS = 8;
    static final int SLOT_SIZE = 16;
    static final long EMPTY = 0L;
    static final long TOMBSTONE = -1L;
}
