package dev.ferry.watch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.fabric8.kubernetes.api.model.ManagedFieldsEntryBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class TrimmedItemStoreTest {
    @Test
    void storedObjectsLoseManagedFieldsAndTheLastAppliedCopyButKeepTheirOtherAnnotations() {
        TrimmedItemStore<EndpointSlice> store = new TrimmedItemStore<>();
        EndpointSlice s = new EndpointSliceBuilder().withNewMetadata().withNamespace("ns").withName("web-1")
                .withAnnotations(Map.of("endpoints.kubernetes.io/last-change-trigger-time", "2026-01-01T00:00:00Z",
                        TrimmedItemStore.LAST_APPLIED, "{\"kind\":\"EndpointSlice\"}"))
                .withManagedFields(new ManagedFieldsEntryBuilder().withManager("kube-controller-manager").withOperation("Update").build())
                .endMetadata().withAddressType("IPv4").build();
        store.put(store.getKey(s), s);
        EndpointSlice kept = store.get("ns/web-1");
        assertSame(s, kept, "one copy: the cache holds the object the handlers see");
        assertNull(kept.getMetadata().getManagedFields());
        assertEquals(Map.of("endpoints.kubernetes.io/last-change-trigger-time", "2026-01-01T00:00:00Z"),
                kept.getMetadata().getAnnotations());
    }

    @Test
    void repeatedStringsAndEmptyExtrasAreSharedAcrossObjects() {
        TrimmedItemStore<EndpointSlice> store = new TrimmedItemStore<>();
        for (String name : List.of("a", "b")) {
            EndpointSlice s = new EndpointSliceBuilder().withNewMetadata().withNamespace(new String("prod")).withName(name)
                    .endMetadata().withAddressType("IPv4").addNewEndpoint().withAddresses(new ArrayList<>(List.of("10.0.0.1")))
                    .withNodeName(new String("node-1")).withNewConditions().withReady(true).endConditions().endEndpoint()
                    .addNewPort().withName(new String("http")).withPort(80).withProtocol(new String("TCP")).endPort().build();
            store.put(store.getKey(s), s);
        }
        EndpointSlice a = store.get("prod/a");
        EndpointSlice b = store.get("prod/b");
        assertSame(a.getEndpoints().get(0).getNodeName(), b.getEndpoints().get(0).getNodeName());
        assertSame(a.getMetadata().getNamespace(), b.getMetadata().getNamespace());
        assertSame(a.getPorts().get(0).getProtocol(), b.getPorts().get(0).getProtocol());
        assertSame(a.getEndpoints().get(0).getAdditionalProperties(), b.getEndpoints().get(0).getConditions().getAdditionalProperties());
        assertEquals(List.of("10.0.0.1"), a.getEndpoints().get(0).getAddresses());
        assertEquals("node-1", a.getEndpoints().get(0).getNodeName());
        // a builder still copies a cached object (its extras into a map of its own)
        EndpointSlice copy = new EndpointSliceBuilder(a).build();
        copy.getEndpoints().get(0).setAdditionalProperty("x", 1);
        assertEquals(Map.of(), a.getEndpoints().get(0).getAdditionalProperties());
    }

    @Test
    void objectsWithoutMetadataExtrasAreStoredAsTheyAre() {
        TrimmedItemStore<Service> store = new TrimmedItemStore<>();
        Service svc = new ServiceBuilder().withNewMetadata().withNamespace("default").withName("web").endMetadata().build();
        store.put(store.getKey(svc), svc);
        assertSame(svc, store.get("default/web"));
        assertEquals(1, store.size());
    }
}
