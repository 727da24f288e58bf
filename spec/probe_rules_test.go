package spec

import (
	"errors"
	"strings"
	"testing"
)

// webHead is a Deployment whose one container, web, declares the port
// names http (8080) and metrics (9090); cases append its probes and hooks.
const webHead = deployHead + `      containers:
      - name: web
        image: web:1
        ports:
        - {name: http, containerPort: 8080}
        - {name: metrics, containerPort: 9090}
`

const cp = "spec.template.spec.containers[0]"

func TestProbeRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		// One handler.
		{"no handler", webHead + `        livenessProbe: #!
          periodSeconds: 5
`, cp + ".livenessProbe", "must specify a handler type: one of exec, httpGet, tcpSocket or grpc"},
		{"empty probe", webHead + `        readinessProbe: {} #!
`, cp + ".readinessProbe", "must specify a handler type"},
		{"two handlers", webHead + `        livenessProbe:
          exec: {command: ["true"]}
          httpGet: {path: /, port: 8080} #!
`, cp + ".livenessProbe.httpGet", "may not specify more than 1 handler type (exec is set)"},
		{"three handlers reports the last", webHead + `        startupProbe:
          tcpSocket: {port: 8080}
          grpc: {port: 8080} #!
`, cp + ".startupProbe.grpc", "may not specify more than 1 handler type (tcpSocket is set)"},

		// Timings and thresholds.
		{"negative initial delay", webHead + `        livenessProbe:
          tcpSocket: {port: http}
          initialDelaySeconds: -1 #!
`, cp + ".livenessProbe.initialDelaySeconds", "invalid value -1: must be greater than or equal to 0"},
		{"explicit zero period", webHead + `        readinessProbe:
          tcpSocket: {port: http}
          periodSeconds: 0 #!
`, cp + ".readinessProbe.periodSeconds", "invalid value 0: must be at least 1 (leave periodSeconds out for the default, 10)"},
		{"explicit zero period in hex", webHead + `        readinessProbe:
          tcpSocket: {port: http}
          periodSeconds: 0x0 #!
`, cp + ".readinessProbe.periodSeconds", "invalid value 0: must be at least 1"},
		{"negative period", webHead + `        livenessProbe:
          tcpSocket: {port: http}
          periodSeconds: -10 #!
`, cp + ".livenessProbe.periodSeconds", "invalid value -10: must be at least 1 (0 or unset means the default, 10)"},
		{"negative timeout", webHead + `        livenessProbe:
          tcpSocket: {port: http}
          timeoutSeconds: -1 #!
`, cp + ".livenessProbe.timeoutSeconds", "must be at least 1 (0 or unset means the default, 1)"},
		{"negative failure threshold", webHead + `        readinessProbe:
          tcpSocket: {port: http}
          failureThreshold: -3 #!
`, cp + ".readinessProbe.failureThreshold", "must be at least 1 (0 or unset means the default, 3)"},
		{"negative success threshold", webHead + `        readinessProbe:
          tcpSocket: {port: http}
          successThreshold: -1 #!
`, cp + ".readinessProbe.successThreshold", "must be at least 1"},
		{"liveness success threshold", webHead + `        livenessProbe:
          tcpSocket: {port: http}
          successThreshold: 2 #!
`, cp + ".livenessProbe.successThreshold", "invalid value 2: must be 1 for a liveness or startup probe"},
		{"startup success threshold", webHead + `        startupProbe:
          tcpSocket: {port: http}
          successThreshold: 3 #!
`, cp + ".startupProbe.successThreshold", "must be 1"},
		{"readiness grace period", webHead + `        readinessProbe:
          tcpSocket: {port: http}
          terminationGracePeriodSeconds: 10 #!
`, cp + ".readinessProbe.terminationGracePeriodSeconds", "must not be set for readinessProbes"},
		{"liveness grace period zero", webHead + `        livenessProbe:
          tcpSocket: {port: http}
          terminationGracePeriodSeconds: 0 #!
`, cp + ".livenessProbe.terminationGracePeriodSeconds", "invalid value 0: must be greater than 0"},

		// Ports.
		{"httpGet port name not declared", webHead + `        readinessProbe:
          httpGet:
            path: /ready
            port: admin #!
`, cp + ".readinessProbe.httpGet.port", `port name "admin" is not declared by container "web": its ports are named "http", "metrics"`},
		{"port name of a container without named ports", deployHead + `      containers:
      - name: web
        image: web:1
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet:
            port: http #!
`, cp + ".readinessProbe.httpGet.port", `port name "http" is not declared by container "web": it names none of its ports`},
		{"port name of a sibling", deployHead + `      containers:
      - name: app
        image: app:1
        ports: [{name: http, containerPort: 8080}]
      - name: proxy
        image: proxy:1
        livenessProbe:
          tcpSocket:
            port: http #!
`, "spec.template.spec.containers[1].livenessProbe.tcpSocket.port", `port name "http" is not declared by container "proxy" (container "app" declares it, but a name is looked up in the probe's or hook's own container, as in Kubernetes: use the number, 8080)`},
		{"port name invalid", webHead + `        livenessProbe:
          tcpSocket:
            port: HTTP #!
`, cp + ".livenessProbe.tcpSocket.port", `invalid value "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`},
		{"port name too long", webHead + `        livenessProbe:
          tcpSocket:
            port: a-very-long-port-name #!
`, cp + ".livenessProbe.tcpSocket.port", "must be no more than 15 characters"},
		{"quoted port number", webHead + `        livenessProbe:
          httpGet:
            port: "8080" #!
`, cp + ".livenessProbe.httpGet.port", `invalid value "8080": a port number must not be quoted`},
		{"port zero", webHead + `        livenessProbe:
          httpGet:
            path: /
            port: 0 #!
`, cp + ".livenessProbe.httpGet.port", "invalid value 0: must be between 1 and 65535, inclusive"},
		{"port missing", webHead + `        livenessProbe:
          tcpSocket: {} #!
`, cp + ".livenessProbe.tcpSocket.port", "invalid value 0: must be between 1 and 65535"},
		{"port too large", webHead + `        livenessProbe:
          tcpSocket: {port: 65536} #!
`, cp + ".livenessProbe.tcpSocket.port", "invalid value 65536: must be between 1 and 65535"},
		{"grpc port zero", webHead + `        readinessProbe:
          grpc:
            service: shop
            port: 0 #!
`, cp + ".readinessProbe.grpc.port", "invalid value 0: must be between 1 and 65535, inclusive"},
		{"grpc port name", webHead + `        readinessProbe:
          grpc:
            port: http #!
`, cp + ".readinessProbe.grpc.port", "expected an integer, got a string"},

		// httpGet's other fields.
		{"path without slash", webHead + `        livenessProbe:
          httpGet:
            path: healthz #!
            port: http
`, cp + ".livenessProbe.httpGet.path", `invalid value "healthz": must start with "/"`},
		{"scheme lower case", webHead + `        livenessProbe:
          httpGet:
            port: http
            scheme: https #!
`, cp + ".livenessProbe.httpGet.scheme", `unsupported value "https": supported values: "HTTP", "HTTPS"`},
		{"header name", webHead + `        livenessProbe:
          httpGet:
            port: http
            httpHeaders:
            - name: Accept
              value: text/plain
            - name: "X Probe" #!
              value: "1"
`, cp + ".livenessProbe.httpGet.httpHeaders[1].name", `invalid value "X Probe": a valid HTTP header must consist of alphanumeric characters or '-'`},
		{"header name empty", webHead + `        livenessProbe:
          httpGet:
            port: http
            httpHeaders:
            - name: "" #!
              value: x
`, cp + ".livenessProbe.httpGet.httpHeaders[0].name", "required"},
		{"httpGet protocol", webHead + `        livenessProbe:
          httpGet:
            port: http
            protocol: HTTP2 #!
`, cp + ".livenessProbe.httpGet.protocol", "field not supported by Stevedore"},

		// exec.
		{"exec without command", webHead + `        livenessProbe:
          exec: {} #!
`, cp + ".livenessProbe.exec.command", "required: the command to run, at least one element"},
		{"exec empty command", webHead + `        livenessProbe:
          exec:
            command: [] #!
`, cp + ".livenessProbe.exec.command", "required"},
	})
}

func TestLifecycleRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"hook without handler", webHead + `        lifecycle:
          preStop: {} #!
`, cp + ".lifecycle.preStop", "must specify a handler type: one of exec, httpGet or sleep"},
		{"hook with two handlers", webHead + `        lifecycle:
          postStart:
            exec: {command: [touch, /tmp/started]}
            sleep: {seconds: 1} #!
`, cp + ".lifecycle.postStart.sleep", "may not specify more than 1 handler type (exec is set)"},
		{"hook tcpSocket", webHead + `        lifecycle:
          preStop:
            tcpSocket: {port: 8080} #!
`, cp + ".lifecycle.preStop.tcpSocket", "field not supported by Stevedore"},
		{"hook exec without command", webHead + `        lifecycle:
          postStart:
            exec:
              command: #!
`, cp + ".lifecycle.postStart.exec.command", "required"},
		{"hook httpGet port name", webHead + `        lifecycle:
          preStop:
            httpGet:
              path: /drain
              port: admin #!
`, cp + ".lifecycle.preStop.httpGet.port", `port name "admin" is not declared by container "web"`},
		{"hook httpGet path", webHead + `        lifecycle:
          preStop:
            httpGet:
              path: drain #!
              port: http
`, cp + ".lifecycle.preStop.httpGet.path", `must start with "/"`},
		{"sleep negative", webHead + `        lifecycle:
          preStop:
            sleep:
              seconds: -1 #!
`, cp + ".lifecycle.preStop.sleep.seconds", "invalid value -1: must be greater than or equal to 0"},
		{"sleep past the default grace period", webHead + `        lifecycle:
          preStop:
            sleep:
              seconds: 31 #!
`, cp + ".lifecycle.preStop.sleep.seconds", "invalid value 31: must not be greater than the pod's terminationGracePeriodSeconds (30)"},
		{"sleep past the grace period", deployHead + `      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: web:1
        lifecycle:
          postStart:
            sleep: {seconds: 6} #!
`, cp + ".lifecycle.postStart.sleep.seconds", "terminationGracePeriodSeconds (5)"},
		{"lifecycle stopSignal", webHead + `        lifecycle:
          stopSignal: SIGINT #!
`, cp + ".lifecycle.stopSignal", "field not supported by Stevedore"},

		// Termination message.
		{"termination message policy", webHead + `        terminationMessagePolicy: Always #!
`, cp + ".terminationMessagePolicy", `unsupported value "Always": supported values: "File", "FallbackToLogsOnError"`},
		{"termination message path relative", webHead + `        terminationMessagePath: var/log/why #!
`, cp + ".terminationMessagePath", `invalid value "var/log/why": must be an absolute path`},
		{"termination message path backstep", webHead + `        terminationMessagePath: /tmp/../etc/why #!
`, cp + ".terminationMessagePath", `invalid value "/tmp/../etc/why": must not contain '..'`},
		{"termination message path root", webHead + `        terminationMessagePath: // #!
`, cp + ".terminationMessagePath", "must name a file, not the root directory"},
		{"termination message path too long", webHead + `        terminationMessagePath: /` + strings.Repeat("a", 4096) + ` #!
`, cp + ".terminationMessagePath", "too long: must have at most 4096 bytes"},
	})
}

// TestProbesAndHooksLoad loads every handler with every field set to a
// good value, and the values at the edges of what is allowed.
func TestProbesAndHooksLoad(t *testing.T) {
	set := mustLoad(t, deployHead+`      terminationGracePeriodSeconds: 60
      containers:
      - name: web
        image: web:1
        ports:
        - {name: http, containerPort: 8080}
        - {name: grpc, containerPort: 9090}
        startupProbe:
          httpGet: {path: /started, port: http}
          failureThreshold: 30
          periodSeconds: 1
          terminationGracePeriodSeconds: 5
        livenessProbe:
          httpGet:
            host: 127.0.0.1
            path: /healthz?verbose=1
            port: 8080
            scheme: HTTPS
            httpHeaders: [{name: X-Probe, value: liveness}, {name: Host, value: web.local}]
          initialDelaySeconds: 0
          timeoutSeconds: 0
          successThreshold: 1
          failureThreshold: 0
        readinessProbe:
          grpc: {port: 9090, service: shop.Cart}
          successThreshold: 3
          periodSeconds: 2
          timeoutSeconds: 1
        lifecycle:
          postStart:
            exec: {command: [sh, -c, "echo started > /tmp/started"]}
          preStop:
            sleep: {seconds: 60}
        terminationMessagePath: /var/log/why
        terminationMessagePolicy: FallbackToLogsOnError
      - name: sidecar
        image: sidecar:1
        ports: [{name: admin, containerPort: 7000}]
        livenessProbe:
          tcpSocket: {port: admin}
        readinessProbe:
          exec: {command: [/bin/ready]}
        lifecycle:
          preStop:
            httpGet: {port: admin, path: /quit}
          postStart:
            sleep: {seconds: 0}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
`)
	d := set.OfKind(KindDeployment)[0].(*Deployment)
	web, side := d.Spec.Template.Spec.Containers[0], d.Spec.Template.Spec.Containers[1]
	if g := web.ReadinessProbe.GRPC; g == nil || g.Port != 9090 || g.Service == nil || *g.Service != "shop.Cart" {
		t.Errorf("web readinessProbe.grpc = %+v", g)
	}
	if h := web.LivenessProbe.HTTPGet; h.Port != FromInt(8080) || h.Scheme != URISchemeHTTPS || len(h.HTTPHeaders) != 2 {
		t.Errorf("web livenessProbe.httpGet = %+v", h)
	}
	if p := web.StartupProbe; p.PeriodSeconds != 1 || p.FailureThreshold != 30 || *p.TerminationGracePeriodSeconds != 5 {
		t.Errorf("web startupProbe = %+v", p)
	}
	if s := web.Lifecycle.PreStop.Sleep; s == nil || s.Seconds != 60 {
		t.Errorf("web preStop = %+v", web.Lifecycle.PreStop)
	}
	if web.TerminationMessagePolicy != TerminationMessageFallbackToLogsOnError || web.TerminationMessagePath != "/var/log/why" {
		t.Errorf("web termination message = %q, %q", web.TerminationMessagePath, web.TerminationMessagePolicy)
	}
	// Kubernetes' defaults are stored as unset (see normalizeTerminationMessage).
	if side.TerminationMessagePath != "" || side.TerminationMessagePolicy != "" {
		t.Errorf("sidecar termination message = %q, %q, want both stored empty", side.TerminationMessagePath, side.TerminationMessagePolicy)
	}
	if p := side.LivenessProbe.TCPSocket.Port; p != FromString("admin") {
		t.Errorf("sidecar tcpSocket port = %+v", p)
	}
}

// TestExplicitZeroPeriod checks that `periodSeconds: 0` is refused however
// the document reached the loader (a rendered one has no lines), and that
// an alias or merge key to a 0 counts as writing it; a periodSeconds left
// out or null is the default.
func TestExplicitZeroPeriod(t *testing.T) {
	const field = "spec.template.spec.containers[0].livenessProbe.periodSeconds"
	src := deployHead + `      containers:
      - name: web
        image: web:1
        livenessProbe:
          exec: {command: ["true"]}
          periodSeconds: 0
`
	for _, tc := range []struct {
		name   string
		inputs []Input
		line   int
	}{
		{"file", []Input{{File: "x.yaml", Data: []byte(src)}}, 17},
		{"rendered", []Input{{File: "app/kustomization.yaml", Data: []byte(src), Rendered: true}}, 0},
		{"alias", []Input{{File: "x.yaml", Data: []byte(strings.Replace(src, "periodSeconds: 0", "initialDelaySeconds: &zero 0\n          periodSeconds: *zero", 1))}}, 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadInputs(tc.inputs, nil)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			if len(list) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(list), err)
			}
			e := list[0]
			if e.Field != field || !strings.Contains(e.Message, "must be at least 1") {
				t.Errorf("error = %v, want %s: must be at least 1", e, field)
			}
			if tc.line != 0 && e.Line != tc.line {
				t.Errorf("line = %d, want %d", e.Line, tc.line)
			}
			if tc.name == "rendered" && e.Line != 0 {
				t.Errorf("rendered error has line %d, want none", e.Line)
			}
		})
	}
	for _, ok := range []string{"periodSeconds: null", "periodSeconds: ~", "timeoutSeconds: 0", "periodSeconds: 1"} {
		mustLoad(t, strings.Replace(src, "periodSeconds: 0", ok, 1))
	}
	// A Probe built in code cannot say it was written: 0 is the default.
	d := mustLoad(t, strings.Replace(src, "periodSeconds: 0", "periodSeconds: 5", 1)).OfKind(KindDeployment)[0].(*Deployment)
	d.Spec.Template.Spec.Containers[0].LivenessProbe.PeriodSeconds = 0
	if errs := Validate(d); errs != nil {
		t.Errorf("Validate of periodSeconds 0 set in code: %v", errs)
	}
}
