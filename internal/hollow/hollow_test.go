package hollow

import (
	"context"
	"strings"
	"testing"
)

// Every node of a host, and of hosts on different subnets, has an address
// of its own inside 127.0.0.0/8, never a network or broadcast-looking .0.
func TestAddrDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, subnet := range []int{100, 101} {
		for i := 1; i <= 1000; i++ {
			a := Addr(subnet, i)
			if !a.IsLoopback() {
				t.Fatalf("Addr(%d, %d) = %s: not loopback", subnet, i, a)
			}
			if a.As4()[3] == 0 {
				t.Fatalf("Addr(%d, %d) = %s ends in .0", subnet, i, a)
			}
			if seen[a.String()] {
				t.Fatalf("Addr(%d, %d) = %s twice", subnet, i, a)
			}
			seen[a.String()] = true
		}
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Nodes: 1}, {DataDir: t.TempDir()}, {Nodes: 250*256 + 1, DataDir: t.TempDir()}, {Nodes: 1, DataDir: t.TempDir(), Subnet: 256}} {
		if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "hollow host") && !strings.Contains(err.Error(), "at most") {
			t.Errorf("Start(%+v) = %v, want a refusal", cfg, err)
		}
	}
}
