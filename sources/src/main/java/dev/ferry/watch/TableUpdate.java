package dev.ferry.watch;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.util.List;

/**
 * One batch of changes from the {@link ChangeTracker} to its {@link TableSink}. Immutable. Ports are
 * already through endpoint selection (their endpoints carry this node's cluster/external flags).
 *
 * <ul>
 *   <li>{@code full == false}: {@code ports} are the service ports that were added or changed since
 *       the last update; {@code removed} are the ones that are gone. Anything else is unchanged.</li>
 *   <li>{@code full == true} (the first sync, every {@code syncPeriod}, after a node zone change or a
 *       failed apply): {@code ports} is every service port the cluster wants; the table must end up
 *       holding exactly {@code ports} plus {@code retained}, removing anything else.</li>
 * </ul>
 * {@code retained} names service ports whose Service currently fails conversion: they keep their last
 * good entry (a bad update loses nothing) until the Service is fixed or deleted. Removals are listed
 * before puts must be applied: a frontend may move from a removed service port to a new one.
 *
 * @param changeTimesMillis epoch millis of the API changes this update carries (EndpointSlice
 *                          {@code endpoints.kubernetes.io/last-change-trigger-time}), for a sink
 *                          that wants to measure its own programming latency; may be empty
 */
public record TableUpdate(boolean full, List<ServicePort> ports, List<ServicePortName> removed,
                          List<ServicePortName> retained, long[] changeTimesMillis) {

    public TableUpdate {
        ports = List.copyOf(ports);
        removed = List.copyOf(removed);
        retained = List.copyOf(retained);
        changeTimesMillis = changeTimesMillis == null ? new long[0] : changeTimesMillis.clone();
    }

    public boolean isEmpty() {
        return !full && ports.isEmpty() && removed.isEmpty();
    }

    @Override
    public String toString() {
        return (full ? "full" : "partial") + " update: " + ports.size() + " ports, " + removed.size() + " removed, "
                + retained.size() + " retained";
    }
}
