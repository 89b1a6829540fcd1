package dev.ferry.conntrack;

import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.bytes.RandomDataInput;
import net.openhft.chronicle.hash.AbstractData;
import net.openhft.chronicle.hash.Data;
import net.openhft.chronicle.hash.serialization.DataAccess;
import net.openhft.chronicle.wire.WireIn;
import net.openhft.chronicle.wire.WireOut;

/**
 * How Chronicle Map sees Ferry's byte[] keys and values. Chronicle's own ByteArrayDataAccess wraps
 * the array in a new reference-counted BytesStore on every call (192 B per lookup); Ferry's arrays
 * live in long-lived per-thread flyweights, so this one remembers the wrappers of the last two arrays
 * it saw and reuses them, which makes lookups and stores allocation-free.
 *
 * <p>Public only because Chronicle names it in the map file's header and instantiates it by
 * reflection in every process that opens the map. Not thread-safe: Chronicle keeps one copy per
 * thread context ({@link #copy}).
 */
public final class ReusingByteArrayDataAccess extends AbstractData<byte[]> implements DataAccess<byte[]> {
    private transient byte[] array;
    private transient BytesStore<?, ?> bs;
    private transient byte[] cachedA;
    private transient BytesStore<?, ?> cachedABs;
    private transient byte[] cachedB;
    private transient BytesStore<?, ?> cachedBBs;
    private transient boolean replaceA = true;

    @Override
    public Data<byte[]> getData(byte[] instance) {
        array = instance;
        if (instance == cachedA) {
            bs = cachedABs;
        } else if (instance == cachedB) {
            bs = cachedBBs;
        } else {
            bs = BytesStore.wrap(instance);
            if (replaceA) {
                cachedA = instance;
                cachedABs = bs;
            } else {
                cachedB = instance;
                cachedBBs = bs;
            }
            replaceA = !replaceA;
        }
        return this;
    }

    @Override
    public void uninit() {
        array = null;
        bs = null;
    }

    @Override
    public DataAccess<byte[]> copy() {
        return new ReusingByteArrayDataAccess();
    }

    @Override
    public RandomDataInput bytes() {
        return bs;
    }

    @Override
    public long offset() {
        return 0;
    }

    @Override
    public long size() {
        return array.length;
    }

    @Override
    public byte[] get() {
        return array;
    }

    @Override
    public byte[] getUsing(byte[] using) {
        if (using == null || using.length != array.length) {
            using = new byte[array.length];
        }
        System.arraycopy(array, 0, using, 0, array.length);
        return using;
    }

    @Override
    public void writeMarshallable(WireOut wireOut) {
        // stateless: nothing to persist in the header
    }

    @Override
    public void readMarshallable(WireIn wireIn) {
        // stateless
    }
}
