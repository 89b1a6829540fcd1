package dev.ferry.cli;

import dev.ferry.conntrack.ConntrackReader;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * `ferry dump conntrack`: the userspace proxy's flow, ClientIP-affinity and connection-count tables
 * (Chronicle Maps in the state directory), read from this process. Flows are labelled with the
 * service port their frontend belongs to when the service table is there to ask.
 */
final class ConntrackDump {
    private final PrintWriter out;
    private final PrintWriter err;

    ConntrackDump(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    int print(Path dir, String ns, String name, String format) throws IOException {
        long now = System.currentTimeMillis();
        List<ConntrackReader.FlowEntry> flows;
        List<ConntrackReader.AffinityEntry> affinities;
        List<ConntrackReader.BackendCount> counts;
        try (ConntrackReader r = ConntrackReader.open(dir)) {
            flows = r.flows();
            affinities = r.affinities();
            counts = r.connections();
        }
        ServiceTableReader table = null;
        try {
            table = ServiceTableReader.open(dir);
        } catch (IOException noTable) {
            err.println("ferry dump: flows are not labelled with services: " + noTable.getMessage());
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        try {
            ServicePortView view = new ServicePortView();
            for (ConntrackReader.FlowEntry f : flows) {
                String service = serviceOf(table, view, f);
                if (!matches(service, ns, name)) continue;
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("kind", "flow");
                m.put("protocol", f.protocol() == 17 ? "UDP" : f.protocol() == 6 ? "TCP" : Integer.toString(f.protocol()));
                m.put("client", hostPort(f.client()));
                m.put("frontend", hostPort(f.frontend()));
                m.put("service", service);
                m.put("backend", hostPort(f.backend()));
                m.put("idleSeconds", Math.max(0, (now - f.lastSeenMillis()) / 1000));
                rows.add(m);
            }
        } finally {
            if (table != null) table.close();
        }
        if (ns == null) {
            for (ConntrackReader.AffinityEntry a : affinities) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("kind", "affinity");
                m.put("protocol", "");
                m.put("client", IpAddresses.format(a.client()));
                m.put("frontend", String.format("id:%016x", a.servicePortId()));
                m.put("service", "");
                m.put("backend", hostPort(a.backend()));
                m.put("expiresInSeconds", Math.max(0, (a.expiresAtMillis() - now) / 1000));
                rows.add(m);
            }
            for (ConntrackReader.BackendCount c : counts) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("kind", "connections");
                m.put("backend", hostPort(c.backend()));
                m.put("connections", c.connections());
                rows.add(m);
            }
        }
        switch (format) {
            case "json" -> out.println(JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build()
                    .writeValueAsString(rows));
            case "yaml" -> out.print(new YAMLMapper().writeValueAsString(rows));
            default -> {
                TextTable t = new TextTable("KIND", "PROTO", "CLIENT", "FRONTEND", "SERVICE", "BACKEND", "STATE");
                for (Map<String, Object> m : rows) {
                    String state = m.containsKey("idleSeconds") ? "idle " + Duration.ofSeconds((Long) m.get("idleSeconds"))
                            .toString().substring(2).toLowerCase()
                            : m.containsKey("expiresInSeconds") ? "expires in " + m.get("expiresInSeconds") + "s"
                            : m.get("connections") + " open";
                    t.add(str(m, "kind"), str(m, "protocol"), str(m, "client"), str(m, "frontend"), str(m, "service"),
                            str(m, "backend"), state);
                }
                t.print(out);
            }
        }
        out.flush();
        return 0;
    }

    private static String str(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v == null || v.toString().isEmpty() ? "-" : v.toString();
    }

    private static boolean matches(String service, String ns, String name) {
        if (ns == null) return true;
        if (service == null || service.isEmpty()) return false;
        String key = service.contains(":") ? service.substring(0, service.indexOf(':')) : service;
        return name == null ? key.startsWith(ns + "/") : key.equals(ns + "/" + name);
    }

    private static String serviceOf(ServiceTableReader table, ServicePortView view, ConntrackReader.FlowEntry f) {
        if (table == null || f.frontend() == null) return "";
        Protocol p = f.protocol() == 17 ? Protocol.UDP : f.protocol() == 6 ? Protocol.TCP : Protocol.SCTP;
        if (table.lookup(p, f.frontend().getAddress(), f.frontend().getPort(), view) && view.isValid()) {
            return view.servicePortName().toString();
        }
        return "";
    }

    private static String hostPort(InetSocketAddress a) {
        return a == null ? "" : IpAddresses.hostPort(a.getAddress(), a.getPort());
    }
}
