#!/usr/bin/env python3
"""What the Kubernetes schemas cannot check in deploy/*.yaml (`make lint-deploy`
runs kubernetes-validate first): the kinds present and how they fit together.

- every file parses, and together they hold a Deployment, a Service, a
  HorizontalPodAutoscaler, a PodDisruptionBudget and a NetworkPolicy;
- the HPA scales a Deployment that is there, which leaves `replicas` to the
  HPA and gives every container a CPU request (the HPA's target is a share
  of it);
- the Service, the PDB and the NetworkPolicy select that Deployment's pods,
  and the NetworkPolicy lets in the port the container listens on.

Needs PyYAML, which kubernetes-validate depends on.
"""

import sys

import yaml

REQUIRED_KINDS = {
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
}


def selects(selector, labels):
    """Whether a matchLabels-style selector (a plain map for a Service) picks `labels`."""
    match = selector.get("matchLabels", selector) if selector else {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def main(paths):
    errors = []
    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            found = [d for d in yaml.safe_load_all(f) if d]
        print(f"{path}: {[d['kind'] for d in found]}")
        docs += found

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    missing = REQUIRED_KINDS - by_kind.keys()
    if missing:
        errors.append(f"missing kinds: {sorted(missing)}")

    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        name = hpa["metadata"]["name"]
        ref = hpa["spec"]["scaleTargetRef"]
        target = deployments.get(ref["name"]) if ref["kind"] == "Deployment" else None
        if target is None:
            errors.append(f"HPA {name}: scales {ref['kind']} {ref['name']}, not a Deployment here")
            continue
        if "replicas" in target["spec"]:
            errors.append(f"Deployment {ref['name']}: sets replicas, which HPA {name} owns")
        for c in target["spec"]["template"]["spec"]["containers"]:
            if "cpu" not in c.get("resources", {}).get("requests", {}):
                errors.append(f"Deployment {ref['name']}: container {c['name']} has no CPU request")

    for dep_name, dep in deployments.items():
        pod = dep["spec"]["template"]
        labels = pod["metadata"].get("labels", {})
        ports = {p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        for kind, selector_of in (
            ("Service", lambda d: d["spec"].get("selector")),
            ("PodDisruptionBudget", lambda d: d["spec"].get("selector")),
            ("NetworkPolicy", lambda d: d["spec"].get("podSelector")),
        ):
            if not any(selects(selector_of(d), labels) for d in by_kind.get(kind, [])):
                errors.append(f"Deployment {dep_name}: no {kind} selects its pods")
        for netpol in by_kind.get("NetworkPolicy", []):
            if not selects(netpol["spec"].get("podSelector"), labels):
                continue
            allowed = {p.get("port") for rule in netpol["spec"].get("ingress", []) for p in rule.get("ports", [])}
            if not ports <= allowed:
                errors.append(
                    f"NetworkPolicy {netpol['metadata']['name']}: lets in {sorted(allowed, key=str)}, "
                    f"not the container ports {sorted(ports)}"
                )

    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
