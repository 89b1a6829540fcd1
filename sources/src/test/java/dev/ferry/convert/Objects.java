package dev.ferry.convert;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

/** Test objects written as the YAML a user or kubectl would write, parsed by fabric8. */
final class Objects {
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private Objects() {}

    static Service service(String yaml) {
        return SERIALIZATION.unmarshal(yaml, Service.class);
    }

    static EndpointSlice slice(String yaml) {
        return SERIALIZATION.unmarshal(yaml, EndpointSlice.class);
    }
}
