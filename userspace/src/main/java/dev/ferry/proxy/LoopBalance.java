package dev.ferry.proxy;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorChooserFactory;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Which event loop relays a newly accepted TCP connection. With one SO_REUSEPORT listener per loop
 * the kernel picks the accepting loop by a hash of the client's address and port, and a handful of
 * long connections can all land on one loop: four iperf3 streams hashed 4/0 (one chance in eight)
 * ran at the one-core rate. A connection stays on the loop that accepted it — no hand-off, the
 * cheap case for short connections — unless that loop relays {@value #SLACK} or more connections
 * more than the least busy one; then it goes to that one.
 *
 * <p>Every channel placed through the group is counted where it goes ({@link #next()}) and uncounted
 * when it closes ({@link #closed}): TCP connections, and UDP listeners (registered from the table's
 * writer thread: no accepting loop, so the least busy one). With the NIO transport the accepting
 * thread is not one of these loops, so every connection goes to the least busy loop.
 */
final class LoopBalance implements EventExecutorChooserFactory {
    static final int SLACK = 2;

    private EventExecutor[] loops = new EventExecutor[0];
    private AtomicIntegerArray active = new AtomicIntegerArray(0);

    @Override
    public EventExecutorChooser newChooser(EventExecutor[] executors) {
        loops = executors.clone();
        active = new AtomicIntegerArray(executors.length);
        return this::next;
    }

    EventExecutor next() {
        int self = -1;
        int least = 0;
        for (int i = 0; i < loops.length; i++) {
            if (loops[i].inEventLoop()) {
                self = i;
            }
            if (active.get(i) < active.get(least)) {
                least = i;
            }
        }
        int chosen = self < 0 || active.get(self) - active.get(least) >= SLACK ? least : self;
        active.incrementAndGet(chosen);
        return loops[chosen];
    }

    /** A connection placed by {@link #next()} on {@code loop} has closed. */
    void closed(EventExecutor loop) {
        for (int i = 0; i < loops.length; i++) {
            if (loops[i] == loop) {
                active.decrementAndGet(i);
                return;
            }
        }
    }

    /** Connections relayed by each loop now (for tests and metrics). */
    int active(int loop) {
        return active.get(loop);
    }
}
