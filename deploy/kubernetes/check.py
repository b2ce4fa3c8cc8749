#!/usr/bin/python3
"""Checks the Kubernetes manifests of this folder against what a customdb
deployment needs: probes, the grace period of the drain, the rollout, the
budget, the autoscaler, secrets kept out of plain values and the settings,
read-only mounts where the settings and scripts are read.

    /usr/bin/python3 deploy/kubernetes/check.py deploy/kubernetes

Needs Python 3.11 or later and PyYAML (Debian: python3-yaml). Prints
"kubernetes manifests: ok (N objects)" and exits 0, or lists every problem
and exits 1.
"""

import hashlib
import pathlib
import sys

try:
    import yaml
except ImportError:
    sys.exit("check.py needs PyYAML: apt-get install python3-yaml")
try:
    import tomllib
except ImportError:  # Python before 3.11: the settings file is not read
    tomllib = None

# What the image sets (Dockerfile) and the built-in defaults (config/default.toml).
IMAGE_CONFIG = "/etc/customdb/config.toml"
PORT = 8080
DEFAULT_DRAIN_DELAY_MS = 5000
DEFAULT_DRAIN_TIMEOUT_MS = 30000
TOKENS_VAR = "CUSTOMDB__HTTP__API_TOKENS"
READINESS_PATH = "/readyz?exclude=store"
LIVENESS_PATH = "/healthz"

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def dig(node, *keys):
    """node[k1][k2]..., or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def as_int(value):
    """An integer field, which YAML may give as a quoted string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def load(folder):
    """Every object of every *.yaml file, as (file, object) pairs."""
    objects = []
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        problem(folder, "no *.yaml file")
    for path in files:
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            problem(path.name, f"does not parse as YAML: {e}")
            continue
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                problem(path.name, "a document that is not a mapping")
                continue
            missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
            if not dig(doc, "metadata", "name"):
                missing.append("metadata.name")
            if missing:
                problem(path.name, "an object without " + ", ".join(missing))
                continue
            objects.append((path, doc))
    return objects


def name_of(path, obj):
    return f"{path.name}: {obj['kind']}/{obj['metadata']['name']}"


def labels_match(selector, labels):
    """A matchLabels selector that selects pods with these labels."""
    return isinstance(selector, dict) and bool(selector) and all(
        labels.get(k) == v for k, v in selector.items()
    )


def settings_of(configmaps, volumes, mounts, config_path):
    """The settings file mounted at config_path, parsed, with its ConfigMap's
    name; (None, None) when it cannot be found or read."""
    for mount in mounts:
        volume = volumes.get(mount.get("name"))
        cm_name = dig(volume, "configMap", "name")
        if cm_name is None or cm_name not in configmaps:
            continue
        data = configmaps[cm_name].get("data") or {}
        mount_path = mount.get("mountPath", "").rstrip("/")
        key = None
        if mount.get("subPath") and mount_path == config_path:
            key = mount["subPath"]
        elif not mount.get("subPath") and config_path.startswith(mount_path + "/"):
            key = config_path[len(mount_path) + 1:]
        if key is None:
            continue
        if key not in data:
            return None, cm_name
        if tomllib is None:
            return None, cm_name
        try:
            return tomllib.loads(data[key]), cm_name
        except tomllib.TOMLDecodeError as e:
            problem(f"ConfigMap/{cm_name}", f"{key} is not valid TOML: {e}")
            return None, cm_name
    return None, None


def mounted_from_configmap(path, volumes, mounts):
    """The mount (of a ConfigMap volume) that serves path, or None."""
    path = path.rstrip("/")
    for mount in mounts:
        volume = volumes.get(mount.get("name"))
        if dig(volume, "configMap", "name") is None:
            continue
        mount_path = mount.get("mountPath", "").rstrip("/")
        if path == mount_path or path.startswith(mount_path + "/"):
            return mount
    return None


def check_deployment(path, dep, configmaps, secrets, files):
    where = name_of(path, dep)
    spec = dep.get("spec") or {}
    if "replicas" in spec:
        problem(where, "spec.replicas is set: the HorizontalPodAutoscaler owns the count, and kubectl apply would reset it")
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        problem(where, "strategy.type must be RollingUpdate")
    rolling = strategy.get("rollingUpdate") or {}
    if rolling.get("maxUnavailable") not in (0, "0", "0%"):
        problem(where, "strategy.rollingUpdate.maxUnavailable must be 0")
    if rolling.get("maxSurge") not in (1, "1"):
        problem(where, "strategy.rollingUpdate.maxSurge must be 1 (the capacity rule counts it)")

    template = spec.get("template") or {}
    pod_labels = dig(template, "metadata", "labels") or {}
    if not labels_match(dig(spec, "selector", "matchLabels"), pod_labels):
        problem(where, "spec.selector.matchLabels does not select the pod template's labels")
    pod = template.get("spec") or {}
    containers = pod.get("containers") or []
    if not containers:
        problem(where, "no container")
        return pod_labels, []
    volumes = {v.get("name"): v for v in pod.get("volumes") or [] if isinstance(v, dict)}
    for v in volumes.values():
        cm_name = dig(v, "configMap", "name")
        if cm_name is not None and cm_name not in configmaps:
            problem(where, f"volume {v.get('name')} names ConfigMap {cm_name}, which is not in this folder")
    pod_security = pod.get("securityContext") or {}

    annotations = dig(template, "metadata", "annotations") or {}
    checksum = annotations.get("checksum/config")
    configmap_file = path.parent / "configmap.yaml"
    if checksum is not None and configmap_file in files:
        actual = hashlib.sha256(configmap_file.read_bytes()).hexdigest()
        if checksum != actual:
            problem(where, f"the checksum/config annotation is stale: configmap.yaml changed, so set it to {actual} (sha256sum configmap.yaml) to roll the pods onto it")

    ports = []
    longest_sleep = 0
    drain_ms = DEFAULT_DRAIN_DELAY_MS + DEFAULT_DRAIN_TIMEOUT_MS
    for c in containers:
        cw = f"{where}: container {c.get('name')}"
        ports += [p for p in c.get("ports") or [] if isinstance(p, dict)]

        ready = c.get("readinessProbe") or {}
        if dig(ready, "httpGet", "path") != READINESS_PATH:
            problem(cw, f"readinessProbe must be httpGet {READINESS_PATH} (a store outage must not take every pod out)")
        if (as_int(ready.get("timeoutSeconds")) or 1) < 2:
            problem(cw, "readinessProbe.timeoutSeconds must be at least 2")
        live = c.get("livenessProbe") or {}
        live_path = dig(live, "httpGet", "path")
        if live_path != LIVENESS_PATH:
            problem(cw, f"livenessProbe must be httpGet {LIVENESS_PATH}" + (" (never /readyz: a store outage would restart every pod)" if live_path and live_path.startswith("/readyz") else ""))

        pre_stop = dig(c, "lifecycle", "preStop") or {}
        if "exec" in pre_stop:
            problem(cw, "a preStop exec hook: the image has no shell, and customdb's drain delay does that job")
        if "sleep" in pre_stop:
            longest_sleep = max(longest_sleep, as_int(dig(pre_stop, "sleep", "seconds")) or 0)

        requests = dig(c, "resources", "requests") or {}
        for resource in ("cpu", "memory"):
            if not requests.get(resource):
                problem(cw, f"resources.requests.{resource} is not set" + (": the autoscaler measures CPU as a share of it" if resource == "cpu" else ""))

        security = c.get("securityContext") or {}
        if security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is not True:
            problem(cw, "securityContext.runAsNonRoot must be true")
        if security.get("allowPrivilegeEscalation") is not False:
            problem(cw, "securityContext.allowPrivilegeEscalation must be false")
        if security.get("readOnlyRootFilesystem") is not True:
            problem(cw, "securityContext.readOnlyRootFilesystem must be true")
        if "ALL" not in (dig(security, "capabilities", "drop") or []):
            problem(cw, "securityContext.capabilities.drop must hold ALL")
        seccomp = dig(security, "seccompProfile", "type") or dig(pod_security, "seccompProfile", "type")
        if seccomp != "RuntimeDefault":
            problem(cw, "seccompProfile.type must be RuntimeDefault")

        mounts = [m for m in c.get("volumeMounts") or [] if isinstance(m, dict)]
        for m in mounts:
            if m.get("readOnly") is not True:
                problem(cw, f"volumeMount {m.get('mountPath')} must be readOnly: true")

        env = {e.get("name"): e for e in c.get("env") or [] if isinstance(e, dict)}
        from_secret = {}
        for e in env.values():
            ref = dig(e, "valueFrom", "secretKeyRef")
            if ref:
                from_secret[e["name"]] = (ref.get("name"), ref.get("key"))
        for source in c.get("envFrom") or []:
            secret_name = dig(source, "secretRef", "name")
            prefix = source.get("prefix", "") if isinstance(source, dict) else ""
            secret = secrets.get(secret_name) or {}
            for key in list((secret.get("stringData") or {})) + list((secret.get("data") or {})):
                from_secret.setdefault(prefix + key, (secret_name, key))

        checked = set()

        def secret_var(var):
            if var in checked:
                return
            checked.add(var)
            e = env.get(var)
            if e is not None and "value" in e:
                problem(cw, f"{var} has a plain value: take it from the Secret (secretKeyRef)")
            elif var not in from_secret:
                problem(cw, f"{var} is not taken from a Secret (secretKeyRef, or envFrom with that key)")
            else:
                secret_name, key = from_secret[var]
                secret = secrets.get(secret_name)
                if secret is None:
                    problem(cw, f"{var} reads Secret {secret_name}, which is not in this folder")
                elif key not in (secret.get("stringData") or {}) and key not in (secret.get("data") or {}):
                    problem(cw, f"{var} reads key {key!r} of Secret {secret_name}, which has no such key")

        secret_var(TOKENS_VAR)
        for var in env:
            if var and var.startswith("CUSTOMDB__CONNECTIONS__") and var.endswith("__DATABASE_URL") and var not in from_secret:
                secret_var(var)

        config_path = (env.get("CUSTOMDB_CONFIG") or {}).get("value", IMAGE_CONFIG)
        if mounted_from_configmap(config_path, volumes, mounts) is None:
            problem(cw, f"no ConfigMap volume is mounted at {config_path} (CUSTOMDB_CONFIG)")
            continue
        settings, cm_name = settings_of(configmaps, volumes, mounts, config_path)
        if settings is None:
            continue
        http = settings.get("http") or {}
        if http.get("api_tokens"):
            problem(f"ConfigMap/{cm_name}", "http.api_tokens in the settings file: tokens belong in the Secret")
        drain_ms = int(http.get("drain_delay_ms", DEFAULT_DRAIN_DELAY_MS)) + int(http.get("drain_timeout_ms", DEFAULT_DRAIN_TIMEOUT_MS))
        defaults = settings.get("defaults") or {}
        for conn, table in (settings.get("connections") or {}).items():
            if not isinstance(table, dict):
                continue
            cc = f"ConfigMap/{cm_name}: connections.{conn}"
            if "database_url" in table:
                problem(cc, "database_url in the settings file: it holds a password; take it from the Secret")
            secret_var(f"CUSTOMDB__CONNECTIONS__{conn.upper()}__DATABASE_URL")
            if table.get("watch", defaults.get("watch", False)):
                problem(cc, "watch = true: replicas would pick up a changed ConfigMap at different moments; roll the pods instead")
            scripts_dir = table.get("scripts_dir")
            if isinstance(scripts_dir, str):
                if not scripts_dir.startswith("/"):
                    scripts_dir = str(pathlib.PurePosixPath(config_path).parent / scripts_dir)
                if mounted_from_configmap(scripts_dir, volumes, mounts) is None:
                    problem(cw, f"connections.{conn}.scripts_dir ({scripts_dir}) is not a ConfigMap volume mount")

    if not any(p.get("containerPort") == PORT for p in ports):
        problem(where, f"no container port {PORT}")
    grace = as_int(pod.get("terminationGracePeriodSeconds"))
    needed = -(-drain_ms // 1000) + 5 + longest_sleep
    if grace is None or grace < needed:
        problem(where, f"terminationGracePeriodSeconds is {grace if grace is not None else 'unset (30)'}: it must be at least drain_delay + drain_timeout + 5 s" + (" + the preStop sleep" if longest_sleep else "") + f" = {needed}")
    return pod_labels, ports


def main():
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
    if not folder.is_dir():
        sys.exit(f"usage: check.py FOLDER (no folder {folder})")
    objects = load(folder)
    files = {path for path, _ in objects}
    by_kind = {}
    for path, obj in objects:
        by_kind.setdefault(obj["kind"], []).append((path, obj))
    configmaps = {o["metadata"]["name"]: o for _, o in by_kind.get("ConfigMap", [])}
    secrets = {o["metadata"]["name"]: o for _, o in by_kind.get("Secret", [])}

    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Secret", "ConfigMap"):
        if kind not in by_kind:
            problem(folder, f"no {kind}")

    deployments = {}
    for path, dep in by_kind.get("Deployment", []):
        if dep["apiVersion"] != "apps/v1":
            problem(name_of(path, dep), "apiVersion must be apps/v1")
        deployments[dep["metadata"]["name"]] = check_deployment(path, dep, configmaps, secrets, files)
    all_labels = [labels for labels, _ in deployments.values()]

    for path, svc in by_kind.get("Service", []):
        where = name_of(path, svc)
        selector = dig(svc, "spec", "selector")
        targets = [(labels, ports) for labels, ports in deployments.values() if labels_match(selector, labels)]
        if not targets:
            problem(where, "spec.selector selects no Deployment's pods")
        named = {p.get("name"): p.get("containerPort") for _, ports in targets for p in ports}
        reaches = False
        for p in dig(svc, "spec", "ports") or []:
            target = p.get("targetPort", p.get("port"))
            if target == PORT or as_int(target) == PORT or named.get(target) == PORT:
                reaches = True
        if not reaches:
            problem(where, f"no port targets the pods' port {PORT}")

    min_replicas = []
    for path, hpa in by_kind.get("HorizontalPodAutoscaler", []):
        where = name_of(path, hpa)
        if hpa["apiVersion"] != "autoscaling/v2":
            problem(where, "apiVersion must be autoscaling/v2")
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("name") not in deployments:
            problem(where, "scaleTargetRef must name the Deployment of this folder")
        low, high = as_int(spec.get("minReplicas")), as_int(spec.get("maxReplicas"))
        if low is None or low < 2:
            problem(where, "minReplicas must be at least 2")
        else:
            min_replicas.append(low)
        if high is None or (low is not None and high < low):
            problem(where, "maxReplicas must be set, and not below minReplicas")
        if not any(
            m.get("type") == "Resource"
            and dig(m, "resource", "name") == "cpu"
            and dig(m, "resource", "target", "type") == "Utilization"
            for m in spec.get("metrics") or []
            if isinstance(m, dict)
        ):
            problem(where, "no Resource metric on cpu with a Utilization target")
        if "max_connections" not in path.read_text(encoding="utf-8"):
            problem(where, "maxReplicas needs its capacity computation in a comment naming max_connections")

    for path, pdb in by_kind.get("PodDisruptionBudget", []):
        where = name_of(path, pdb)
        if pdb["apiVersion"] != "policy/v1":
            problem(where, "apiVersion must be policy/v1")
        spec = pdb.get("spec") or {}
        if not any(labels_match(dig(spec, "selector", "matchLabels"), labels) for labels in all_labels):
            problem(where, "spec.selector.matchLabels does not select the Deployment's pods")
        if "maxUnavailable" in spec:
            if spec["maxUnavailable"] not in (1, "1"):
                problem(where, "maxUnavailable must be 1")
        elif "minAvailable" in spec:
            least = as_int(spec["minAvailable"])
            if least is None or not min_replicas or least >= min(min_replicas):
                problem(where, "minAvailable must be below the autoscaler's minReplicas (equal values forbid every eviction)")
        else:
            problem(where, "neither maxUnavailable nor minAvailable")

    for path, secret in by_kind.get("Secret", []):
        where = name_of(path, secret)
        if not secret.get("stringData"):
            problem(where, "the placeholders belong in stringData")
        if secret.get("data"):
            problem(where, "data holds encoded values: keep only placeholders, in stringData")

    if problems:
        print("kubernetes manifests: problems found")
        for p in problems:
            print(f"- {p}")
        return 1
    print(f"kubernetes manifests: ok ({len(objects)} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
