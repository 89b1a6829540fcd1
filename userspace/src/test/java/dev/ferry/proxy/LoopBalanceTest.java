package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Connections stay on the loop that accepted them unless it is clearly busier than another. */
@Tag("unit")
class LoopBalanceTest {
    private final LoopBalance balance = new LoopBalance();
    private final EventLoopGroup group = Transport.pick("nio").newGroup(2, "balance-test", balance);
    private final List<EventExecutor> loops = new ArrayList<>();

    LoopBalanceTest() {
        group.forEach(loops::add);
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The loop next() picks when called on loop {@code on}, as an accept there does. */
    private int acceptOn(int on) throws Exception {
        EventExecutor chosen = loops.get(on).submit((Callable<EventExecutor>) group::next).get(5, TimeUnit.SECONDS);
        return loops.indexOf(chosen);
    }

    @Test
    void fourConnectionsAllAcceptedByOneLoopEndUpNoWorseThanThreeToOne() throws Exception {
        List<Integer> placed = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            placed.add(acceptOn(0));
        }
        assertEquals(List.of(0, 0, 1, 0), placed, "the third goes to the idle loop, the fourth stays");
        assertEquals(3, balance.active(0));
        assertEquals(1, balance.active(1));
    }

    @Test
    void aConnectionStaysOnItsLoopWhileTheLoopsAreEven() throws Exception {
        assertEquals(0, acceptOn(0));
        assertEquals(1, acceptOn(1));
        assertEquals(0, acceptOn(0));
        assertEquals(1, acceptOn(1));
    }

    @Test
    void closingUncountsSoTheLoopKeepsItsNextConnection() throws Exception {
        acceptOn(0);
        acceptOn(0);
        balance.closed(loops.get(0));
        balance.closed(loops.get(0));
        assertEquals(0, balance.active(0));
        assertEquals(0, acceptOn(0));
        assertEquals(0, acceptOn(0), "1 - 0 is under the slack: no hand-off");
    }

    @Test
    void aCallerOutsideTheLoopsGetsTheLeastBusyOne() throws Exception {
        acceptOn(0);
        assertEquals(loops.get(1), group.next());
    }
}
