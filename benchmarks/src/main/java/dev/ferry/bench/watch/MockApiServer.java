package dev.ferry.bench.watch;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.lang.reflect.Method;
import java.util.HashMap;
import java.util.Map;

/**
 * fabric8's Kubernetes mock server in CRUD mode, loaded reflectively: the benchmarks module does not
 * depend on {@code io.fabric8:kubernetes-server-mock}, so it must be on the class path at run time
 * (see benchmarks/RESULTS.md (watch section) for the command). Single-threaded use.
 */
public final class MockApiServer implements AutoCloseable {
    private final Object server;
    private final Class<?> serverClass;

    public MockApiServer() throws ReflectiveOperationException {
        ClassLoader cl = MockApiServer.class.getClassLoader();
        try {
            serverClass = Class.forName("io.fabric8.kubernetes.client.server.mock.KubernetesMockServer", true, cl);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("io.fabric8:kubernetes-server-mock is not on the class path: add its jars "
                    + "(e.g. proxy-core's test class path) to -cp", e);
        }
        Class<?> context = Class.forName("io.fabric8.mockwebserver.Context", true, cl);
        Class<?> webServer = Class.forName("io.fabric8.mockwebserver.MockWebServer", true, cl);
        Class<?> dispatcherType = Class.forName("io.fabric8.mockwebserver.http.Dispatcher", true, cl);
        Object dispatcher = Class.forName("io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher", true, cl)
                .getConstructor().newInstance();
        server = serverClass.getConstructor(context, webServer, Map.class, dispatcherType, boolean.class)
                .newInstance(context.getConstructor().newInstance(), webServer.getConstructor().newInstance(),
                        new HashMap<>(), dispatcher, false);
        serverClass.getMethod("init").invoke(server);
    }

    public int port() throws ReflectiveOperationException {
        return (int) serverClass.getMethod("getPort").invoke(server);
    }

    public KubernetesClient client() throws ReflectiveOperationException {
        return (KubernetesClient) serverClass.getMethod("createClient").invoke(server);
    }

    @Override
    public void close() throws ReflectiveOperationException {
        Method destroy = serverClass.getMethod("destroy");
        destroy.invoke(server);
    }
}
