package version

import (
	"strings"
	"testing"
)

func TestMajorMinor(t *testing.T) {
	for _, c := range []struct {
		in         string
		maj, minor int
		ok         bool
	}{
		{"v0.16.0", 0, 16, true},
		{"0.13", 0, 13, true},
		{"v1.2.3-rc.1+dirty", 1, 2, true},
		{"v0.16-rc.1", 0, 16, true},
		{"v0.0.0-20261130011926-ab2d167abcde+dirty", 0, 0, true},
		{"(devel)", 0, 0, false},
		{"", 0, 0, false},
		{"v1", 0, 0, false},
		{"va.b.c", 0, 0, false},
	} {
		maj, mn, ok := MajorMinor(c.in)
		if maj != c.maj || mn != c.minor || ok != c.ok {
			t.Errorf("MajorMinor(%q) = %d, %d, %v; want %d, %d, %v", c.in, maj, mn, ok, c.maj, c.minor, c.ok)
		}
	}
}

func TestSkew(t *testing.T) {
	for _, c := range []struct{ client, server, want string }{
		{"v0.16.0", "v0.16.3", ""},
		{"v0.16.0", "v0.15.0", ""},
		{"v0.16.0", "v0.17.1", ""},
		{"v0.16.0", "v0.13.0", "version difference between client (0.16) and server (0.13) exceeds the supported minor version skew of +/-1"},
		{"v0.16.0", "v0.18.0", "version difference between client (0.16) and server (0.18) exceeds the supported minor version skew of +/-1"},
		{"v1.16.0", "v0.16.0", "version difference between client (1.16) and server (0.16) exceeds the supported minor version skew of +/-1"},
		{"(devel)", "v0.10.0", ""},
	} {
		if got := Skew(c.client, c.server, 1); got != c.want {
			t.Errorf("Skew(%q, %q) = %q; want %q", c.client, c.server, got, c.want)
		}
	}
}

func TestReleaseVersion(t *testing.T) {
	for _, c := range []struct{ git, want string }{
		{"(devel)", Release},
		{"v0.0.0-20261130011926-ab2d167abcde+dirty", Release},
		{"v0.17.2", "v0.17.2"},
		{"v0.16.1-0.20261201000000-ab2d167abcde", "v0.16.1-0.20261201000000-ab2d167abcde"},
		// An untagged commit after v0.15.0 is becoming Release, not 0.15.
		{"v0.15.1-0.20261201035321-42af3916ab88", Release},
		{"v0.15.1-0.20261201035321-42af3916ab88+dirty", Release},
		{"v0.16.0-rc.1.0.20261201035321-42af3916ab88", "v0.16.0-rc.1.0.20261201035321-42af3916ab88"},
		// A tag is what it says, even an older one.
		{"v0.15.0", "v0.15.0"},
	} {
		if got := (Info{GitVersion: c.git}).ReleaseVersion(); got != c.want {
			t.Errorf("ReleaseVersion of %q = %q; want %q", c.git, got, c.want)
		}
	}
	if !strings.HasPrefix(Release, "v0.") {
		t.Errorf("Release = %q", Release)
	}
}
