#!/usr/bin/env node
// k8scheck.js - rendered Kubernetes manifests checked against the
// Kubernetes API schemas, offline (a kubeconform-like check in node):
//   every document has an apiVersion/kind this check knows (core and apps
//   APIs from npm `kubernetes-models`, ServiceMonitor from
//   `@kubernetes-models/prometheus-operator`, ExternalSecret from
//   `@kubernetes-models/external-secrets`) and validates against its schema
//   (types, required fields, enums, formats); unknown kinds are errors, not
//   skipped. Like kubeconform without -strict, fields that the schema does
//   not name are not reported.
// Then what the chart promises: the api, web and worker Deployments (the
// two servers with liveness and readiness probes, every pod as a non-root
// user), an HPA and a PodDisruptionBudget per autoscaled component, an
// ALB Ingress sending /v1 to the API, a ServiceMonitor with the metrics
// token, and the Secret from an ExternalSecret.
// One TAP line per check on stdout; exit 1 on any failure.
//
//   node deploy/k8scheck.js TOOLS_DIR RENDERED.yaml [--existing-secret]
//
// --existing-secret: the rendering of ci/existing-secret-values.yaml, which
// turns the Ingress, the ServiceMonitor and External Secrets off: then none
// of the three may be rendered, and the pods read the named Secret.
"use strict";

const fs = require("fs");
const path = require("path");

const [toolsDir, file, flag] = process.argv.slice(2);
const existingSecret = flag === "--existing-secret";
if (!toolsDir || !file) {
  console.error("usage: k8scheck.js TOOLS_DIR RENDERED.yaml");
  process.exit(2);
}
const req = (m) => require(path.resolve(toolsDir, "node_modules", m));
const YAML = req("yaml");

// apiVersion/kind -> module path and export name.
const models = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "ConfigMap"],
  "v1/Secret": ["kubernetes-models/v1/Secret", "Secret"],
  "v1/Service": ["kubernetes-models/v1/Service", "Service"],
  "v1/ServiceAccount": ["kubernetes-models/v1/ServiceAccount", "ServiceAccount"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "Deployment"],
  "batch/v1/Job": ["kubernetes-models/batch/v1/Job", "Job"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "HorizontalPodAutoscaler"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "PodDisruptionBudget"],
  "networking.k8s.io/v1/Ingress": ["kubernetes-models/networking.k8s.io/v1/Ingress", "Ingress"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "ServiceMonitor"],
  "external-secrets.io/v1/ExternalSecret": ["@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret", "ExternalSecret"],
};

let n = 0;
let failed = 0;
function check(name, fn) {
  n++;
  try {
    const why = fn();
    if (why) throw new Error(why);
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(e.message || e).split("\n")) console.log(`# ${line}`);
  }
}

const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
  .map((d) => {
    if (d.errors.length) throw new Error(`YAML: ${d.errors[0].message}`);
    return d.toJS();
  })
  .filter((d) => d && typeof d === "object");

for (const doc of docs) {
  const id = `${doc.apiVersion}/${doc.kind}`;
  check(`schema: ${doc.kind} ${doc.metadata && doc.metadata.name}`, () => {
    const m = models[id];
    if (!m) return `no schema known for ${id}`;
    const Model = req(m[0])[m[1]];
    new Model(doc).validate();
    return null;
  });
}

const of = (kind) => docs.filter((d) => d.kind === kind);
const named = (kind, suffix) => of(kind).find((d) => d.metadata.name.endsWith(suffix));

check("Deployments api, web and worker; the servers probe liveness and readiness", () => {
  for (const c of ["api", "web", "worker"]) {
    const d = named("Deployment", `-${c}`);
    if (!d) return `no Deployment *-${c}`;
    const ctr = d.spec.template.spec.containers[0];
    const sc = d.spec.template.spec.securityContext || {};
    if (!sc.runAsNonRoot || sc.runAsUser !== 10001) return `${c}: not run as user 10001`;
    if (c !== "worker" && !(ctr.livenessProbe && ctr.readinessProbe)) return `${c}: probes missing`;
  }
  const api = named("Deployment", "-api").spec.template.spec.containers[0];
  if (api.readinessProbe.httpGet.path !== "/readyz") return "api readiness is not /readyz";
  return null;
});
check("an HPA and a PodDisruptionBudget per autoscaled Deployment", () => {
  for (const h of of("HorizontalPodAutoscaler")) {
    const target = h.spec.scaleTargetRef.name;
    if (!of("Deployment").some((d) => d.metadata.name === target)) return `HPA ${h.metadata.name} targets no Deployment`;
    if (!named("PodDisruptionBudget", target.slice(target.lastIndexOf("-")))) return `no PDB for ${target}`;
  }
  return of("HorizontalPodAutoscaler").length >= 2 ? null : "fewer than two HPAs";
});
if (existingSecret) {
  check("no Ingress, ServiceMonitor, ExternalSecret or Secret; the pods read the existing Secret", () => {
    for (const k of ["Ingress", "ServiceMonitor", "ExternalSecret", "Secret"]) if (of(k).length) return `${k} rendered`;
    const api = named("Deployment", "-api").spec.template.spec.containers[0];
    return api.envFrom.some((e) => e.secretRef && e.secretRef.name === "community-secrets") ? null : "api does not read community-secrets";
  });
} else {
  check("an ALB Ingress: /v1 to the API, / to the web tier", () => {
    const ing = of("Ingress")[0];
    if (!ing || ing.spec.ingressClassName !== "alb") return "no Ingress of class alb";
    const paths = ing.spec.rules[0].http.paths;
    const to = (p) => (paths.find((x) => x.path === p) || { backend: { service: {} } }).backend.service.name || "";
    if (!to("/v1").endsWith("-api") || !to("/").endsWith("-web")) return `routes: ${JSON.stringify(paths.map((p) => [p.path, p.backend.service.name]))}`;
    return null;
  });
  check("a ServiceMonitor scrapes the API with the metrics token", () => {
    const sm = of("ServiceMonitor")[0];
    if (!sm) return "no ServiceMonitor";
    const ep = sm.spec.endpoints[0];
    return ep.path === "/metrics" && ep.authorization.credentials.key === "COMMUNITY_METRICS_TOKEN" ? null : "endpoint";
  });
  check("secrets come from an ExternalSecret, not from the chart", () => {
    if (of("Secret").length) return "the chart renders a Secret itself";
    const es = of("ExternalSecret")[0];
    if (!es) return "no ExternalSecret";
    return es.spec.data.some((d) => d.secretKey === "COMMUNITY_DB") ? null : "no COMMUNITY_DB";
  });
}

console.log(`1..${n}`);
console.log(`# ${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
