package dev.ferry.daemon.cluster;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.config.KubeProxyConfigReader;
import dev.ferry.daemon.config.ProxyConfig;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** deploy/ parsed into typed fabric8 objects and held to what replacing kube-proxy needs, and no more. */
@Tag("unit")
class DeployManifestsTest {
    static final KubernetesSerialization YAML = new KubernetesSerialization();
    static final Path DEPLOY = findDeploy();

    static Path findDeploy() {
        Path p = Path.of("").toAbsolutePath();
        for (int i = 0; i < 4 && p != null; i++, p = p.getParent()) {
            if (Files.isDirectory(p.resolve("deploy")) && Files.exists(p.resolve("deploy/kustomization.yaml"))) {
                return p.resolve("deploy");
            }
        }
        throw new AssertionError("deploy/ not found above " + Path.of("").toAbsolutePath());
    }

    static <T> T load(String file, Class<T> type) throws IOException {
        T t = YAML.unmarshal(Files.readString(DEPLOY.resolve(file)), type);
        assertNotNull(t, file);
        return t;
    }

    static Container ferryContainer(DaemonSet ds) {
        List<Container> cs = ds.getSpec().getTemplate().getSpec().getContainers();
        assertEquals(1, cs.size(), "one container");
        return cs.get(0);
    }

    static ProxyConfig shippedConfig() throws Exception {
        ConfigMap cm = load("configmap.yaml", ConfigMap.class);
        KubeProxyConfigReader.Result r = KubeProxyConfigReader.parse("deploy/configmap.yaml:data.config.conf",
                cm.getData().get("config.conf"));
        assertEquals(List.of(), r.warnings(), "the shipped config has no unknown or unused fields");
        return r.config();
    }

    @Test
    void theClusterRoleGrantsExactlyWhatAKubeProxyReplacementNeeds() throws Exception {
        ClusterRole role = load("clusterrole.yaml", ClusterRole.class);
        Set<String> granted = new TreeSet<>();
        for (PolicyRule r : role.getRules()) {
            assertTrue(r.getResourceNames() == null || r.getResourceNames().isEmpty(), "no resourceNames: " + r);
            assertTrue(r.getNonResourceURLs() == null || r.getNonResourceURLs().isEmpty(), "no non-resource URLs: " + r);
            for (String g : r.getApiGroups()) for (String res : r.getResources()) for (String v : r.getVerbs()) {
                granted.add((g.isEmpty() ? "core" : g) + "/" + res + ":" + v);
            }
        }
        assertEquals(new TreeSet<>(List.of(
                "core/services:list", "core/services:watch",
                "discovery.k8s.io/endpointslices:list", "discovery.k8s.io/endpointslices:watch",
                "core/nodes:get", "core/nodes:list", "core/nodes:watch",
                "networking.k8s.io/servicecidrs:list", "networking.k8s.io/servicecidrs:watch",
                "core/events:create", "core/events:patch",
                "events.k8s.io/events:create", "events.k8s.io/events:patch")), granted);
    }

    @Test
    void theBindingGivesTheRoleToTheDaemonSetsServiceAccount() throws Exception {
        ServiceAccount sa = load("serviceaccount.yaml", ServiceAccount.class);
        ClusterRoleBinding b = load("clusterrolebinding.yaml", ClusterRoleBinding.class);
        ClusterRole role = load("clusterrole.yaml", ClusterRole.class);
        DaemonSet ds = load("daemonset.yaml", DaemonSet.class);
        assertEquals("ClusterRole", b.getRoleRef().getKind());
        assertEquals(role.getMetadata().getName(), b.getRoleRef().getName());
        assertEquals(1, b.getSubjects().size());
        assertEquals("ServiceAccount", b.getSubjects().get(0).getKind());
        assertEquals(sa.getMetadata().getName(), b.getSubjects().get(0).getName());
        assertEquals(sa.getMetadata().getNamespace(), b.getSubjects().get(0).getNamespace());
        assertEquals(sa.getMetadata().getName(), ds.getSpec().getTemplate().getSpec().getServiceAccountName());
        assertEquals(sa.getMetadata().getNamespace(), ds.getMetadata().getNamespace());
    }

    @Test
    void theDaemonSetRunsOnEveryNodeInTheHostNetworkAsCritical() throws Exception {
        DaemonSet ds = load("daemonset.yaml", DaemonSet.class);
        PodSpec pod = ds.getSpec().getTemplate().getSpec();
        assertTrue(pod.getHostNetwork(), "hostNetwork");
        assertEquals("system-node-critical", pod.getPriorityClassName());
        assertEquals(1, pod.getTolerations().size(), pod.getTolerations().toString());
        Toleration t = pod.getTolerations().get(0);
        assertEquals("Exists", t.getOperator());
        assertNull(t.getKey(), "tolerates every taint, whatever its key");
        assertNull(t.getEffect(), "tolerates every effect");
        assertEquals(ds.getSpec().getSelector().getMatchLabels(),
                Map.copyOf(ds.getSpec().getTemplate().getMetadata().getLabels()), "selector matches the pod labels");
        EnvVar nodeName = ferryContainer(ds).getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst()
                .orElseThrow(() -> new AssertionError("NODE_NAME not set"));
        assertEquals("spec.nodeName", nodeName.getValueFrom().getFieldRef().getFieldPath());
    }

    @Test
    void theContainerHasOnlyNetAdminAndNetRaw() throws Exception {
        Container c = ferryContainer(load("daemonset.yaml", DaemonSet.class));
        var sc = c.getSecurityContext();
        assertEquals(List.of("ALL"), sc.getCapabilities().getDrop());
        assertEquals(Set.of("NET_ADMIN", "NET_RAW"), Set.copyOf(sc.getCapabilities().getAdd()));
        assertEquals(2, sc.getCapabilities().getAdd().size());
        assertNotEquals(Boolean.TRUE, sc.getPrivileged(), "not privileged");
        assertEquals(Boolean.FALSE, sc.getAllowPrivilegeEscalation());
    }

    @Test
    void theXtablesLockAndTheStateDirAreTheHostsAndTheConfigComesFromTheConfigMap() throws Exception {
        DaemonSet ds = load("daemonset.yaml", DaemonSet.class);
        PodSpec pod = ds.getSpec().getTemplate().getSpec();
        Container c = ferryContainer(ds);
        Map<String, Volume> volumes = pod.getVolumes().stream().collect(Collectors.toMap(Volume::getName, v -> v));
        Map<String, VolumeMount> mounts = c.getVolumeMounts().stream().collect(Collectors.toMap(VolumeMount::getMountPath, m -> m));

        VolumeMount lock = mounts.get("/run/xtables.lock");
        assertNotNull(lock, "/run/xtables.lock mounted");
        assertEquals("/run/xtables.lock", volumes.get(lock.getName()).getHostPath().getPath());
        assertEquals("FileOrCreate", volumes.get(lock.getName()).getHostPath().getType());
        assertNotEquals(Boolean.TRUE, lock.getReadOnly(), "iptables takes the lock for writing");

        VolumeMount state = mounts.get("/run/ferry");
        assertNotNull(state, "/run/ferry mounted");
        assertEquals("/run/ferry", volumes.get(state.getName()).getHostPath().getPath());
        assertTrue(c.getArgs().contains("--state-dir=/run/ferry"), c.getArgs().toString());

        String configArg = c.getArgs().stream().filter(a -> a.startsWith("--config=")).findFirst()
                .orElseThrow(() -> new AssertionError("no --config in " + c.getArgs())).substring("--config=".length());
        Path configPath = Path.of(configArg);
        VolumeMount configMount = mounts.get(configPath.getParent().toString());
        assertNotNull(configMount, "the --config directory is a mount: " + configArg);
        ConfigMap cm = load("configmap.yaml", ConfigMap.class);
        assertEquals(cm.getMetadata().getName(), volumes.get(configMount.getName()).getConfigMap().getName());
        assertTrue(cm.getData().containsKey(configPath.getFileName().toString()), "the ConfigMap has the key --config names");
        assertEquals("run", c.getArgs().get(0));
        assertTrue(c.getArgs().stream().noneMatch(a -> a.startsWith("--kubeconfig") || a.startsWith("--source") || a.equals("--demo")),
                "in a pod Ferry uses the in-cluster config");
    }

    @Test
    void probesUseTheServedPortAndKubeProxysPaths() throws Exception {
        ProxyConfig config = shippedConfig();
        Container c = ferryContainer(load("daemonset.yaml", DaemonSet.class));
        Probe live = c.getLivenessProbe();
        Probe ready = c.getReadinessProbe();
        assertEquals("/livez", live.getHttpGet().getPath());
        assertEquals("/healthz", ready.getHttpGet().getPath());
        for (Probe p : List.of(live, ready)) {
            assertEquals(config.healthzBindAddress().port(), p.getHttpGet().getPort().getIntVal(), "probe on the healthz port");
            assertNull(p.getHttpGet().getHost(), "the kubelet probes the node's address, which 0.0.0.0 covers");
        }
        assertTrue(config.healthzBindAddress().address().isAnyLocalAddress(), "the kubelet must reach the health port");
        assertEquals(10256, config.healthzBindAddress().port());
        assertEquals("127.0.0.1:10249", config.metricsBindAddress().toString());
    }

    @Test
    void theConfigMapsConfigIsAcceptedByFerrysLoader() throws Exception {
        ProxyConfig config = shippedConfig();
        assertEquals(java.time.Duration.ofSeconds(30), config.syncPeriod());
        assertEquals(java.time.Duration.ofSeconds(1), config.minSyncPeriod());
    }

    @Test
    void kustomizationListsEveryManifestAndTheImageIsAJdk() throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> k = YAML.unmarshal(Files.readString(DEPLOY.resolve("kustomization.yaml")), Map.class);
        @SuppressWarnings("unchecked")
        List<String> resources = (List<String>) k.get("resources");
        List<String> manifests = new ArrayList<>();
        try (Stream<Path> files = Files.list(DEPLOY)) {
            files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml"))
                    .sorted().forEach(manifests::add);
        }
        assertEquals(manifests, resources.stream().sorted().toList());
        String dockerfile = Files.readString(DEPLOY.resolve("Dockerfile"));
        assertTrue(dockerfile.lines().anyMatch(l -> l.startsWith("FROM ") && l.contains("-jdk")), "a JDK base image (jdk.compiler)");
        assertTrue(dockerfile.contains("COPY cli/target/ferry.jar"), dockerfile);
        assertTrue(dockerfile.contains("jvm.flags"), "the JVM flags travel with the jar");
        assertEquals("ferry", ferryContainer(load("daemonset.yaml", DaemonSet.class)).getImage().split(":")[0]);
    }
}
