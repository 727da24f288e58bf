// Package resolvconf reads and writes resolv.conf files the way kubelet
// does, and finds the host's usable resolvers: what the agent's runtime
// writes into pods (dnsPolicy Default, the host's search path) and what the
// node's DNS server forwards to share one reading of the host's file.
package resolvconf

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// Paths of the host's files.
const (
	// HostPath is the host's resolver configuration.
	HostPath = "/etc/resolv.conf"
	// SystemdPath lists the servers systemd-resolved forwards to, when
	// HostPath names only its loopback stub (127.0.0.53).
	SystemdPath = "/run/systemd/resolve/resolv.conf"
)

// File is the content of a resolv.conf, split as kubelet does.
type File struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// Parse reads a resolv.conf the way kubelet does: comments (# or ;)
// dropped, every nameserver line kept, the last search line wins, options
// lines accumulate.
func Parse(s string) File {
	var rc File
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.Nameservers = append(rc.Nameservers, f[1])
		case "search":
			rc.Searches = rc.Searches[:0:0]
			for _, s := range f[1:] {
				if s != "." {
					rc.Searches = append(rc.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			rc.Options = append(rc.Options, f[1:]...)
		}
	}
	return rc
}

// String renders rc as a resolv.conf.
func (rc File) String() string {
	var b strings.Builder
	for _, ns := range rc.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.Searches, " "))
	}
	if len(rc.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.Options, " "))
	}
	return b.String()
}

// Host reads the resolver configuration at path with its loopback
// nameservers dropped: they mean nothing inside a pod's network namespace
// (systemd-resolved's 127.0.0.53, a local dnsmasq). When none is left and
// path is HostPath, the nameservers systemd-resolved itself forwards to
// (SystemdPath) are used instead. Nameservers that are not IP addresses are
// dropped too.
func Host(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("failed to read %s: %w", path, err)
	}
	rc := Parse(string(b))
	rc.Nameservers = usable(rc.Nameservers)
	if len(rc.Nameservers) == 0 && path == HostPath {
		if b, err := os.ReadFile(SystemdPath); err == nil {
			rc.Nameservers = usable(Parse(string(b)).Nameservers)
		}
	}
	return rc, nil
}

// usable keeps the nameservers that are non-loopback IP addresses.
func usable(servers []string) []string {
	var out []string
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil && !a.IsLoopback() {
			out = append(out, s)
		}
	}
	return out
}
