package dev.ferry.watch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The tracker's change detection: every component of a service port and of an endpoint changes the print. */
@Tag("unit")
class FingerprintTest {

    private static Endpoint endpoint() throws Exception {
        return new Endpoint(InetAddress.getByName("10.1.0.1"), 8080, true, true, false, "node-a", "zone-1",
                List.of("zone-1"), "pod-1", true, false);
    }

    private static ServicePort port() throws Exception {
        return new ServicePort(new ServicePortName("default", "web", "http", Protocol.TCP), ServiceType.LOAD_BALANCER,
                false, "", List.of(InetAddress.getByName("10.96.0.1")), 80, "8080", 30080,
                List.of(InetAddress.getByName("192.0.2.1")), List.of(InetAddress.getByName("198.51.100.1")),
                SessionAffinity.CLIENT_IP, 10800, TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER,
                List.of(new Cidr(InetAddress.getByName("203.0.113.0"), 24)), 31000, "PreferClose", false, "rr", false,
                List.of(endpoint()));
    }

    @Test
    void coversEveryComponentOfTheModel() {
        assertEquals(Fingerprint.SERVICE_PORT_COMPONENTS, ServicePort.class.getRecordComponents().length,
                "ServicePort gained or lost a component: update Fingerprint.of");
        assertEquals(Fingerprint.ENDPOINT_COMPONENTS, Endpoint.class.getRecordComponents().length,
                "Endpoint gained or lost a component: update Fingerprint.of");
    }

    @Test
    void equalPortsHaveEqualPrints() throws Exception {
        assertEquals(Fingerprint.of(port()), Fingerprint.of(port()));
    }

    @Test
    void changingAnyServicePortComponentChangesThePrint() throws Exception {
        ServicePort base = port();
        long print = Fingerprint.of(base);
        for (ServicePort variant : variants(base)) {
            assertNotEquals(print, Fingerprint.of(variant), "unchanged print for " + variant);
        }
    }

    @Test
    void changingAnyEndpointComponentChangesThePrint() throws Exception {
        ServicePort base = port();
        long print = Fingerprint.of(base);
        for (Endpoint e : variants(base.endpoints().get(0))) {
            assertNotEquals(print, Fingerprint.of(base.withEndpoints(List.of(e))), "unchanged print for " + e);
        }
    }

    /** One copy per record component, with only that component changed. */
    @SuppressWarnings("unchecked")
    private static <R extends Record> List<R> variants(R base) throws Exception {
        RecordComponent[] components = base.getClass().getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            types[i] = components[i].getType();
        }
        Constructor<?> canonical = base.getClass().getDeclaredConstructor(types);
        List<R> out = new ArrayList<>();
        for (int i = 0; i < components.length; i++) {
            Object[] args = new Object[components.length];
            for (int j = 0; j < components.length; j++) {
                args[j] = components[j].getAccessor().invoke(base);
            }
            args[i] = other(components[i].getName(), args[i]);
            out.add((R) canonical.newInstance(args));
        }
        return out;
    }

    private static Object other(String name, Object v) throws Exception {
        if (v instanceof Boolean b) return !b;
        if (v instanceof Integer n) return n + 1;
        if (v instanceof String s) return s + "x";
        if (v instanceof Enum<?> e) {
            Object[] all = e.getDeclaringClass().getEnumConstants();
            return all[(e.ordinal() + 1) % all.length];
        }
        if (v instanceof InetAddress) return InetAddress.getByName("10.9.9.9");
        if (v instanceof ServicePortName n) return new ServicePortName(n.namespace(), n.name(), n.portName(), Protocol.UDP);
        if (v instanceof List<?> list) {
            List<Object> copy = new ArrayList<>(list);
            Object first = list.isEmpty() ? null : list.get(0);
            if (first instanceof InetAddress) copy.add(InetAddress.getByName("10.9.9.9"));
            else if (first instanceof Cidr) copy.add(new Cidr(InetAddress.getByName("10.9.0.0"), 16));
            else if (first instanceof Endpoint e) copy.add(e.withSelection(false, true));
            else if (first instanceof String) copy.add("zone-9");
            else throw new AssertionError("no variant for list component " + name + " = " + list);
            return copy;
        }
        throw new AssertionError("no variant for component " + name + " = " + v);
    }
}
