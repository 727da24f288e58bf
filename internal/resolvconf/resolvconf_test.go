package resolvconf

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestHost drops loopback and non-IP nameservers and keeps the search path
// and options; an unreadable file is an error.
func TestHost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	content := "# comment\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.1 ; trailing\nnameserver bogus\nsearch a.example b.example.\noptions edns0\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := Host(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rc.Nameservers, []string{"192.0.2.1"}) || !slices.Equal(rc.Searches, []string{"a.example", "b.example"}) ||
		!slices.Equal(rc.Options, []string{"edns0"}) {
		t.Errorf("Host = %+v", rc)
	}
	if got := rc.String(); got != "nameserver 192.0.2.1\nsearch a.example b.example\noptions edns0\n" {
		t.Errorf("String = %q", got)
	}
	if _, err := Host(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Host of a missing file: no error")
	}
}
