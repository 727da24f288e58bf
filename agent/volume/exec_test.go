package volume_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/volume"
)

// script installs a shell plug-in whose body runs for every operation.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecProtocolErrors(t *testing.T) {
	ctx := context.Background()
	v := volume.Volume{Name: "pv1", Handle: "h"}
	for _, tc := range []struct {
		name, body, want string
		timeout          time.Duration
	}{
		{"failure", `[ "$1" = capabilities ] && { echo '{"status":"Success"}'; exit 0; }; echo '{"status":"Failure","message":"disk on fire"}'`,
			"volume plug-in example.com/p provision pv1: disk on fire", 0},
		{"garbage", `[ "$1" = capabilities ] && { echo '{"status":"Success"}'; exit 0; }; echo hello`,
			"failed to decode its answer", 0},
		{"exit without answer", `[ "$1" = capabilities ] && { echo '{"status":"Success"}'; exit 0; }; echo oops >&2; exit 3`,
			"exit status 3: oops", 0},
		{"unknown status", `[ "$1" = capabilities ] && { echo '{"status":"Success"}'; exit 0; }; echo '{"status":"Not supported"}'`,
			`unknown status "Not supported"`, 0},
		{"timeout", `[ "$1" = capabilities ] && { echo '{"status":"Success"}'; exit 0; }; sleep 30; echo '{"status":"Success"}'`,
			"timed out after 2s", 2 * time.Second}, // long enough for the capabilities call on a loaded machine
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := volume.NewExec(ctx, "example.com/p", script(t, tc.body), tc.timeout)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = d.Provision(ctx, v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("provision: %v, want %q", err, tc.want)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("took %s: the timeout did not kill the plug-in", time.Since(start))
			}
		})
	}
	// The request reaches stdin as documented.
	out := filepath.Join(t.TempDir(), "req")
	d, err := volume.NewExec(ctx, "example.com/p", script(t, `cat > `+out+`.$1; echo '{"status":"Success","capabilities":{"nodeLocal":true,"enforcesCapacity":true}}'`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Capabilities(); !c.NodeLocal || !c.EnforcesCapacity {
		t.Fatalf("capabilities = %+v", c)
	}
	v = volume.Volume{Name: "pv1", Handle: "h", CapacityBytes: 5, FSType: "xfs", Parameters: map[string]string{"k": "v"}, MountOptions: []string{"noatime"}}
	if err := d.Publish(ctx, v, "/s", "/t", true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out + ".publish")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"volume":{"name":"pv1","handle":"h","capacityBytes":5,"fsType":"xfs","parameters":{"k":"v"},"mountOptions":["noatime"]},"stagingPath":"/s","targetPath":"/t","readOnly":true}`
	if string(b) != want {
		t.Fatalf("request = %s\nwant      %s", b, want)
	}
	if _, err := volume.NewExec(ctx, "x", filepath.Join(t.TempDir(), "none"), 0); err == nil {
		t.Fatal("NewExec of a missing executable succeeded")
	}
}
