package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The deployment files (deploy/, Dockerfile) are checked against the binary, so that
// they cannot drift from it: every flag, variable, port, route and metric they name
// must exist, and the settings they give must pass serve's own checks.

// secretStandIns are values for the secrets that deployment files leave to the
// operator, so that serve's checks can run over the rest.
var secretStandIns = map[string]string{
	"CLERK_WEBHOOK_SECRET": testSecret,
	"CLERK_SECRET_KEY":     "sk_test_deploycheck",
	"DATABASE_URL":         "postgres://clerksync:password@postgres:5432/app?sslmode=require",
}

// mustParseServe runs serve's flag and setting checks over args and env, as the
// process started by a deployment file would, and returns the command.
func mustParseServe(tb testing.TB, what string, args []string, env map[string]string) *ServeCommand {
	tb.Helper()
	m, _, stderr := testMain(env)
	c := &ServeCommand{Main: m}
	if err := c.ParseFlags(args); err != nil {
		tb.Fatalf("%s: %s refuses its settings: %v\n%s", what, strings.Join(append([]string{"clerksync serve"}, args...), " "), err, stderr)
	}
	return c
}

// envName matches the names of clerksync's settings in free text.
var envName = regexp.MustCompile(`\b(?:CLERK|CLERKSYNC|DATABASE|LOG)_[A-Z0-9_]+\b|\bPORT\b`)

// wantKnownEnv fails tb for each variable text names that no command reads.
func wantKnownEnv(tb testing.TB, file, text string, known map[string]bool) {
	tb.Helper()
	for _, name := range envName.FindAllString(text, -1) {
		if !known[name] {
			tb.Errorf("%s names %s, which clerksync does not read", file, name)
		}
	}
}

// flagToken matches a long flag in free text.
var flagToken = regexp.MustCompile(`(?:^|[\s(])--([a-z][a-z0-9-]*)`)

// wantKnownFlags fails tb for each --flag text names that no command has.
func wantKnownFlags(tb testing.TB, file, text string, flags map[string]map[string]bool) {
	tb.Helper()
	for _, m := range flagToken.FindAllStringSubmatch(text, -1) {
		found := false
		for _, set := range flags {
			found = found || set[m[1]]
		}
		if !found {
			tb.Errorf("%s names --%s, which no clerksync command has", file, m[1])
		}
	}
}

// unit is a systemd unit file: each section's keys with their values in order.
type unit map[string]map[string][]string

func parseUnit(tb testing.TB, text string) unit {
	tb.Helper()
	u := make(unit)
	section := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = make(map[string][]string)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				tb.Fatalf("unit line %d is not KEY=value in a section: %q", i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// one returns the single value of key in section, failing tb unless there is exactly one.
func (u unit) one(tb testing.TB, section, key string) string {
	tb.Helper()
	if v := u[section][key]; len(v) == 1 {
		return v[0]
	}
	tb.Fatalf("[%s] %s= is set %d times, want once", section, key, len(u[section][key]))
	return ""
}

// envAssignment matches NAME=value in an environment file, commented out or not.
var envAssignment = regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)

// unitDatabaseURL returns the DATABASE_URL the unit itself sets.
func unitDatabaseURL(u unit) string {
	for _, kv := range u["Service"]["Environment"] {
		if k, v, _ := strings.Cut(kv, "="); k == "DATABASE_URL" {
			return v
		}
	}
	return ""
}

func TestDeploy_SystemdUnit(t *testing.T) {
	t.Parallel()
	const unitPath, envPath = "deploy/systemd/clerksync.service", "deploy/systemd/clerksync.env"
	text := repoFile(t, unitPath)
	u := parseUnit(t, text)
	known := knownEnv(t)

	for key, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "clerksync", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "", "Restart": "on-failure",
	} {
		if got := u.one(t, "Service", key); got != want {
			t.Errorf("%s: %s=%s, want %s", unitPath, key, got, want)
		}
	}
	for key, want := range map[string]string{"RestrictAddressFamilies": "AF_INET", "SystemCallFilter": "@system-service"} {
		if !strings.Contains(strings.Join(u["Service"][key], " "), want) {
			t.Errorf("%s: %s=%q lacks %s", unitPath, key, u["Service"][key], want)
		}
	}

	// The settings the unit and its environment file give, with stand-ins for the
	// secrets the operator fills in, must pass serve's checks.
	env := make(map[string]string)
	for _, kv := range u["Service"]["Environment"] {
		k, v, _ := strings.Cut(kv, "=")
		if !known[k] {
			t.Errorf("%s: Environment=%s: clerksync reads no %s", unitPath, k, k)
		}
		env[k] = v
	}
	if got := filepath.Base(u.one(t, "Service", "EnvironmentFile")); got != filepath.Base(envPath) {
		t.Errorf("%s: EnvironmentFile= names %s, want the %s shipped beside it", unitPath, got, filepath.Base(envPath))
	}
	envText := repoFile(t, envPath)
	for _, line := range strings.Split(envText, "\n") {
		m := envAssignment.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if !known[m[2]] {
			t.Errorf("%s: %s: clerksync reads no %s", envPath, m[2], m[2])
		}
		if v := strings.TrimSpace(m[3]); v != "" {
			env[m[2]] = v // commented-out examples must be valid too
		}
	}
	wantKnownEnv(t, unitPath, text, known)
	wantKnownEnv(t, envPath, envText, known)
	for k, v := range secretStandIns {
		if env[k] == "" {
			env[k] = v
		}
	}
	execStart := strings.Fields(u.one(t, "Service", "ExecStart"))
	if len(execStart) < 2 || filepath.Base(execStart[0]) != "clerksync" || execStart[1] != "serve" {
		t.Fatalf("%s: ExecStart=%q, want clerksync serve [flags]", unitPath, execStart)
	}
	c := mustParseServe(t, unitPath, execStart[2:], env)

	stop, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec"))
	if err != nil || stop <= c.shutdownTimeout {
		t.Errorf("%s: TimeoutStopSec=%s must exceed serve's --shutdown-timeout %s: SIGKILL would cut in-flight deliveries", unitPath, u.one(t, "Service", "TimeoutStopSec"), c.shutdownTimeout)
	}
	state := "/var/lib/" + u.one(t, "Service", "StateDirectory")
	if d, err := ParseDatabaseURL(unitDatabaseURL(u)); err == nil && d.Kind == "sqlite" && !strings.HasPrefix(d.Path, state+"/") {
		t.Errorf("%s: the SQLite database %s is outside the StateDirectory %s, the one place the service may write", unitPath, d.Path, state)
	}
	if wd := u.one(t, "Service", "WorkingDirectory"); wd != state {
		t.Errorf("%s: WorkingDirectory=%s, want the StateDirectory %s", unitPath, wd, state)
	}

	// systemd's own check, where systemd is installed. ExecStart must name an
	// executable: the unit is checked with this test's binary in its place.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("SKIPPED systemd-analyze verify %s: systemd-analyze is not installed; the unit's settings were checked above", unitPath)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	checked := strings.Replace(text, "ExecStart="+execStart[0]+" ", "ExecStart="+self+" ", 1)
	if err := os.WriteFile(filepath.Join(dir, "clerksync.service"), []byte(checked), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "clerksync.service")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, out)
	}
}

// dockerfile is what the Dockerfile says about the running container.
type dockerfile struct {
	user        string
	env         map[string]string
	expose      []string
	volumes     []string
	healthcheck []string
	entrypoint  []string
	cmd         []string
}

// parseDockerfile reads the instructions the tests check, joining continued lines.
func parseDockerfile(tb testing.TB, text string) dockerfile {
	tb.Helper()
	d := dockerfile{env: make(map[string]string)}
	text = strings.ReplaceAll(text, "\\\n", " ")
	jsonArray := func(s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err != nil {
			tb.Fatalf("Dockerfile: %q is not a JSON array (the exec form): %v", s, err)
		}
		return v
	}
	for _, line := range strings.Split(text, "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		switch instr {
		case "USER":
			d.user = rest
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				d.env[k] = v
			}
		case "EXPOSE":
			d.expose = append(d.expose, strings.Fields(rest)...)
		case "VOLUME":
			d.volumes = append(d.volumes, jsonArray(rest)...)
		case "HEALTHCHECK":
			_, c, ok := strings.Cut(rest, "CMD ")
			if !ok {
				tb.Fatalf("Dockerfile: HEALTHCHECK without CMD: %q", rest)
			}
			d.healthcheck = jsonArray(c)
		case "ENTRYPOINT":
			d.entrypoint = jsonArray(rest)
		case "CMD":
			d.cmd = jsonArray(rest)
		}
	}
	return d
}

// portOf returns the port of a listen address such as :3000 or 127.0.0.1:3000.
func portOf(tb testing.TB, addr string) int {
	tb.Helper()
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		tb.Fatalf("listen address %q has no port", addr)
	}
	return p
}

func TestDeploy_Dockerfile(t *testing.T) {
	t.Parallel()
	text := repoFile(t, "Dockerfile")
	d := parseDockerfile(t, text)
	known := knownEnv(t)
	flags := knownFlags(t)

	for k := range d.env {
		if !known[k] {
			t.Errorf("Dockerfile: ENV %s: clerksync reads no %s", k, k)
		}
	}
	c := mustParseServe(t, "Dockerfile", d.cmd[1:], mergeEnv(d.env, secretStandIns, "DATABASE_URL"))
	if len(d.cmd) == 0 || d.cmd[0] != "serve" {
		t.Errorf("Dockerfile: CMD %q, want serve", d.cmd)
	}
	if got, want := d.expose, []string{strconv.Itoa(portOf(t, c.addr))}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Dockerfile: EXPOSE %v, but serve listens on %s", got, c.addr)
	}
	db, err := ParseDatabaseURL(d.env["DATABASE_URL"])
	if err != nil || db.Kind != "sqlite" || len(d.volumes) != 1 || !strings.HasPrefix(db.Path, d.volumes[0]+"/") {
		t.Errorf("Dockerfile: the default DATABASE_URL %q must be an SQLite file in the VOLUME %v (%v)", d.env["DATABASE_URL"], d.volumes, err)
	}
	if uid, _, _ := strings.Cut(d.user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("Dockerfile: USER %q, want a numeric user other than root", d.user)
	} else if _, err := strconv.Atoi(uid); err != nil {
		t.Errorf("Dockerfile: USER %q is not numeric: Kubernetes' runAsNonRoot cannot check a name", d.user)
	}

	// The health check runs the image's binary with a subcommand and flags it has.
	if len(d.healthcheck) < 2 || d.healthcheck[0] != d.entrypoint[0] || flags[d.healthcheck[1]] == nil {
		t.Fatalf("Dockerfile: HEALTHCHECK CMD %q, want %s healthcheck", d.healthcheck, d.entrypoint)
	}
	for _, arg := range d.healthcheck[2:] {
		if name, ok := strings.CutPrefix(arg, "--"); ok && !flags[d.healthcheck[1]][strings.SplitN(name, "=", 2)[0]] {
			t.Errorf("Dockerfile: HEALTHCHECK passes %s, which clerksync %s does not have", arg, d.healthcheck[1])
		}
	}
	code, stdout, stderr := runMain(t, map[string]string{"PORT": d.env["PORT"]}, nil, append(d.healthcheck[1:], "--url", "http://127.0.0.1:1/healthz")...)
	if code != 1 || !strings.Contains(stderr, "unhealthy") {
		t.Errorf("Dockerfile: the HEALTHCHECK command against nothing: exit %d, want 1 (unhealthy)\n%s%s", code, stdout, stderr)
	}
}

// mergeEnv returns env with the keys of extra that env does not set (or, for keys in
// override, sets to what extra says).
func mergeEnv(env, extra map[string]string, keep ...string) map[string]string {
	out := make(map[string]string)
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range env {
		out[k] = v
	}
	for _, k := range keep {
		if v, ok := env[k]; ok {
			out[k] = v
		}
	}
	return out
}

// kubeObjects decodes every object of deploy/kubernetes strictly into the Kubernetes
// API's own types: a field Kubernetes does not have is an error, not ignored.
func kubeObjects(tb testing.TB) (dep *appsv1.Deployment, svc *corev1.Service, pdb *policyv1.PodDisruptionBudget, files []string) {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "deploy", "kubernetes", "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, path := range paths {
		name := filepath.Base(path)
		if name == "kustomization.yaml" {
			continue
		}
		files = append(files, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		for _, doc := range strings.Split(string(raw), "\n---") {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			var target any
			switch meta.Kind {
			case "Deployment":
				dep = &appsv1.Deployment{}
				target = dep
			case "Service":
				svc = &corev1.Service{}
				target = svc
			case "PodDisruptionBudget":
				pdb = &policyv1.PodDisruptionBudget{}
				target = pdb
			default:
				tb.Fatalf("%s: unexpected kind %q", name, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
				tb.Fatalf("%s is not a valid %s: %v", name, meta.Kind, err)
			}
		}
	}
	if dep == nil || svc == nil || pdb == nil {
		tb.Fatalf("deploy/kubernetes lacks a Deployment, a Service or a PodDisruptionBudget")
	}
	return dep, svc, pdb, files
}

// fromLiteral matches the keys of `kubectl create secret … --from-literal=KEY=…`.
var fromLiteral = regexp.MustCompile(`--from-literal=([A-Z_]+)=`)

func TestDeploy_Kubernetes(t *testing.T) {
	t.Parallel()
	dep, svc, pdb, files := kubeObjects(t)
	known := knownEnv(t)
	dockerfile := parseDockerfile(t, repoFile(t, "Dockerfile"))
	depText := repoFile(t, "deploy/kubernetes/deployment.yaml")

	var kust struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict([]byte(repoFile(t, "deploy/kubernetes/kustomization.yaml")), &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if !sameSet(kust.Resources, files) {
		t.Errorf("kustomization.yaml lists %v, but deploy/kubernetes holds %v", kust.Resources, files)
	}

	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(pod.Containers))
	}
	ctr := pod.Containers[0]

	// The container's settings pass serve's checks, secrets standing in.
	env := make(map[string]string)
	secretKeys := make(map[string]bool)
	for _, e := range ctr.Env {
		if !known[e.Name] {
			t.Errorf("deployment.yaml: env %s: clerksync reads no %s", e.Name, e.Name)
		}
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != "clerksync" || ref.Key != e.Name {
				t.Errorf("deployment.yaml: env %s comes from secret %s key %s, want secret clerksync key %s", e.Name, ref.Name, ref.Key, e.Name)
			}
			secretKeys[ref.Key] = true
			if env[e.Name] = secretStandIns[e.Name]; env[e.Name] == "" {
				t.Errorf("deployment.yaml: env %s comes from a secret this test has no stand-in for", e.Name)
			}
		case e.ValueFrom.ResourceFieldRef != nil:
			env[e.Name] = "268435456"
		}
	}
	for _, secret := range []string{"CLERK_WEBHOOK_SECRET", "DATABASE_URL"} {
		if !secretKeys[secret] {
			t.Errorf("deployment.yaml: %s does not come from the Secret (secretKeyRef)", secret)
		}
	}
	var created []string
	for _, m := range fromLiteral.FindAllStringSubmatch(depText, -1) {
		created = append(created, m[1])
	}
	if !sameSet(created, sortedKeys(secretKeys)) {
		t.Errorf("deployment.yaml: the kubectl create secret in its comment sets %v, the container reads %v", created, sortedKeys(secretKeys))
	}
	wantKnownEnv(t, "deployment.yaml", depText, known)
	if len(ctr.Args) == 0 || ctr.Args[0] != "serve" {
		t.Fatalf("deployment.yaml: args %q, want serve [flags]", ctr.Args)
	}
	c := mustParseServe(t, "deployment.yaml", ctr.Args[1:], env)
	if db, _ := ParseDatabaseURL(env["DATABASE_URL"]); db.Kind != "postgres" && *dep.Spec.Replicas > 1 {
		t.Errorf("deployment.yaml: %d replicas need PostgreSQL", *dep.Spec.Replicas)
	}

	// Ports: the one serve listens on, named http, is the one the probes, the Service
	// and Prometheus use.
	port := int32(portOf(t, c.addr))
	var named *corev1.ContainerPort
	for i := range ctr.Ports {
		if ctr.Ports[i].Name == "http" {
			named = &ctr.Ports[i]
		}
	}
	if named == nil || named.ContainerPort != port {
		t.Fatalf("deployment.yaml: container port http = %+v, but serve listens on %s", named, c.addr)
	}
	if expose := strings.Join(dockerfile.expose, " "); expose != strconv.Itoa(int(port)) {
		t.Errorf("deployment.yaml listens on %d, the image EXPOSEs %s", port, expose)
	}
	wantPort := func(what string, p intstr.IntOrString) {
		t.Helper()
		byName := p.Type == intstr.String && p.StrVal == named.Name
		byNumber := p.Type == intstr.Int && p.IntVal == port
		if !byName && !byNumber {
			t.Errorf("deployment.yaml: %s uses port %s, not the container's %s (%d)", what, p.String(), named.Name, port)
		}
	}
	s := MustRunServe(t, nil)
	routes := serveRoutes(t, s)
	wantRoute := func(what, path string) {
		t.Helper()
		if !routes[path] {
			t.Errorf("deployment.yaml: %s uses %s, which is not a route of serve (%v)", what, path, sortedKeys(routes))
			return
		}
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("deployment.yaml: %s GETs %s, which answers %d", what, path, resp.StatusCode)
		}
	}
	for what, probe := range map[string]*corev1.Probe{"livenessProbe": ctr.LivenessProbe, "readinessProbe": ctr.ReadinessProbe, "startupProbe": ctr.StartupProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("deployment.yaml: no %s over HTTP", what)
			continue
		}
		wantPort(what, probe.HTTPGet.Port)
		wantRoute(what, probe.HTTPGet.Path)
	}
	if ctr.LivenessProbe != nil && ctr.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("deployment.yaml: the liveness probe GETs %s, want /healthz (the process; a database outage must not restart it)", ctr.LivenessProbe.HTTPGet.Path)
	}
	if ctr.ReadinessProbe != nil && ctr.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("deployment.yaml: the readiness probe GETs %s, want /readyz (the database answers)", ctr.ReadinessProbe.HTTPGet.Path)
	}
	ann := dep.Spec.Template.Annotations
	if ann["prometheus.io/port"] != strconv.Itoa(int(port)) {
		t.Errorf("deployment.yaml: prometheus.io/port %q, want %d", ann["prometheus.io/port"], port)
	}
	wantRoute("prometheus.io/path", ann["prometheus.io/path"])

	// Shutdown and security.
	if grace := pod.TerminationGracePeriodSeconds; grace == nil || time.Duration(*grace)*time.Second <= c.shutdownTimeout {
		t.Errorf("deployment.yaml: terminationGracePeriodSeconds must be set above serve's --shutdown-timeout %s", c.shutdownTimeout)
	}
	uid, _, _ := strings.Cut(dockerfile.user, ":")
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || strconv.FormatInt(*sc.RunAsUser, 10) != uid {
		t.Errorf("deployment.yaml: the pod must run as non-root user %s, the image's USER", uid)
	}
	if sc := ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("deployment.yaml: the container must have a read-only root filesystem, no privilege escalation and drop ALL capabilities")
	}
	tmp := false
	for _, m := range ctr.VolumeMounts {
		tmp = tmp || m.MountPath == dockerfile.env["TMPDIR"]
	}
	if !tmp {
		t.Errorf("deployment.yaml: with a read-only root filesystem, TMPDIR %s needs a volume", dockerfile.env["TMPDIR"])
	}

	// The Service and the PodDisruptionBudget select these pods.
	labels := dep.Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if labels[k] != v {
			t.Errorf("service.yaml selects %s=%s, which the pods do not carry", k, v)
		}
	}
	for _, p := range svc.Spec.Ports {
		wantPort("service.yaml targetPort", p.TargetPort)
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("pdb.yaml selects %s=%s, which the pods do not carry", k, v)
		}
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(*dep.Spec.Replicas) {
		t.Errorf("pdb.yaml: minAvailable %v must be below the %d replicas, or nodes can never be drained", pdb.Spec.MinAvailable, *dep.Spec.Replicas)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[string]bool, len(a))
	for _, s := range a {
		set[s] = true
	}
	for _, s := range b {
		if !set[s] {
			return false
		}
	}
	return true
}

// metricsFromOtherHandlers are metrics the alert rules use that this build does not
// expose: none. A metric listed here would pass the test whether it is exposed or not.
var metricsFromOtherHandlers = map[string]string{}

// alertRules is deploy/prometheus/alerts.yml.
type alertRules struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

var (
	// metricName matches clerksync's metric names in rules and text.
	metricName = regexp.MustCompile(`\bclerksync_[a-z0-9_]+`)
	// selector matches a metric with its label matchers in PromQL.
	selector = regexp.MustCompile(`\b(clerksync_[a-z0-9_]+)\{([^}]*)\}`)
	// matcher matches one label matcher.
	matcher = regexp.MustCompile(`([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// routeToken matches a route of the server named in text.
	routeToken = regexp.MustCompile(`(?:^|[\s(])(/[a-z][a-z0-9/_-]*[a-z])\b`)
)

func TestDeploy_PrometheusAlerts(t *testing.T) {
	t.Parallel()
	const path = "deploy/prometheus/alerts.yml"
	text := repoFile(t, path)
	var rules alertRules
	if err := yaml.UnmarshalStrict([]byte(text), &rules); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	exposed, s := exposedMetrics(t)
	routes := serveRoutes(t, s)
	wantKnownEnv(t, path, text, knownEnv(t))
	wantKnownFlags(t, path, text, knownFlags(t))

	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: rule %q needs alert, expr, a severity label, a summary and a description", path, r.Alert)
			}
			for _, m := range routeToken.FindAllStringSubmatch(r.Annotations["description"], -1) {
				if !routes[m[1]] {
					t.Errorf("%s: %s names %s, which is not a route of serve", path, r.Alert, m[1])
				}
			}
			for _, name := range metricName.FindAllString(r.Expr+" "+r.Annotations["description"], -1) {
				if _, ok := exposed.family(name); !ok && metricsFromOtherHandlers[name] == "" {
					t.Errorf("%s: %s uses %s, which clerksync does not expose (it has %v)", path, r.Alert, name, sortedKeys(exposed))
				} else if !ok {
					t.Logf("%s: %s uses %s, not exposed by this build: %s", path, r.Alert, name, metricsFromOtherHandlers[name])
				}
			}
			for _, sel := range selector.FindAllStringSubmatch(r.Expr, -1) {
				family, ok := exposed.family(sel[1])
				if !ok {
					continue // reported above
				}
				for _, m := range matcher.FindAllStringSubmatch(sel[2], -1) {
					label, op, value := m[1], m[2], m[3]
					values, ok := family[label]
					if !ok {
						t.Errorf("%s: %s matches %s on label %q, which it does not have", path, r.Alert, sel[1], label)
						continue
					}
					wantValues(t, path, r.Alert, sel[1], label, op, value, values)
				}
			}
		}
	}
	if n < 6 {
		t.Fatalf("%s has %d rules", path, n)
	}

	// Prometheus's own checks: the rules parse, and fire as alerts_test.yml expects.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		msg := "promtool is not installed (apt-get install prometheus): the rules' PromQL was not checked"
		if os.Getenv("CLERKSYNC_REQUIRE_PROMTOOL") == "1" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED promtool check rules and test rules: " + msg)
	}
	dir := filepath.Join("..", "..", "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// wantValues fails t unless the values a label matcher selects are values the metric
// takes: each alternative of a regular expression made of plain alternatives, or at
// least one value for another expression.
func wantValues(t *testing.T, path, alert, metric, label, op, value string, values map[string]bool) {
	t.Helper()
	switch op {
	case "=", "!=":
		if !values[value] {
			t.Errorf("%s: %s matches %s{%s%s%q}, a value it never takes (it takes %v)", path, alert, metric, label, op, value, sortedKeys(values))
		}
	case "=~", "!~":
		if _, err := regexp.Compile("^(?:" + value + ")$"); err != nil {
			t.Errorf("%s: %s: %s{%s%s%q} is not a regular expression: %v", path, alert, metric, label, op, value, err)
			return
		}
		for _, alt := range strings.Split(value, "|") {
			if regexp.QuoteMeta(alt) == alt && !values[alt] {
				t.Errorf("%s: %s matches %s{%s%s%q}, whose %q it never takes (it takes %v)", path, alert, metric, label, op, value, alt, sortedKeys(values))
				continue
			}
			matched := false
			for v := range values {
				matched = matched || regexp.MustCompile("^(?:"+alt+")$").MatchString(v)
			}
			if !matched {
				t.Errorf("%s: %s matches %s{%s%s%q}, whose %q matches none of its values %v", path, alert, metric, label, op, value, alt, sortedKeys(values))
			}
		}
	}
}
