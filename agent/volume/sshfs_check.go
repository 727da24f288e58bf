package volume

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sshfsFlagOptions are the value-less mount options a StorageClass or
// PersistentVolume may give the sshfs driver (mountOptions).
var sshfsFlagOptions = []string{
	"reconnect", "kernel_cache", "auto_cache", "allow_other", "default_permissions", "ro",
}

// sshfsValueOptions are the mount options with a value a StorageClass or
// PersistentVolume may give, each with the check of its value.
var sshfsValueOptions = map[string]func(string) bool{
	"compression":         oneOf("yes", "no"),
	"cache":               oneOf("yes", "no"),
	"idmap":               oneOf("user", "none"),
	"ServerAliveInterval": isDecimal,
	"ServerAliveCountMax": isDecimal,
	"uid":                 isDecimal,
	"gid":                 isDecimal,
	"umask":               isOctal,
}

func oneOf(vals ...string) func(string) bool {
	return func(s string) bool { return slices.Contains(vals, s) }
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isOctal(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '7' {
			return false
		}
	}
	return true
}

// SSHFSAllowedOptions lists the mount options the sshfs driver accepts
// from a StorageClass or PersistentVolume, for documentation and errors.
func SSHFSAllowedOptions() string {
	opts := slices.Clone(sshfsFlagOptions)
	for k := range sshfsValueOptions {
		opts = append(opts, k+"=")
	}
	slices.Sort(opts)
	return strings.Join(opts, ", ")
}

// checkSSHFSOptions refuses any mount option outside the allowlist: the
// options reach sshfs's -o, where ssh options such as ProxyCommand or
// ssh_command would run commands as root on the node. Each option (a
// mountOptions entry may hold several, comma-separated) must be exactly
// an allowed flag or an allowed key with a valid value.
func checkSSHFSOptions(name string, opts []string) error {
	for _, o := range opts {
		for _, one := range strings.Split(o, ",") {
			if slices.Contains(sshfsFlagOptions, one) {
				continue
			}
			k, val, ok := strings.Cut(one, "=")
			if check, known := sshfsValueOptions[k]; known && ok && check(val) {
				continue
			}
			return fmt.Errorf("volume %s: mount option %q is not allowed for the sshfs driver (allowed: %s)", name, one, SSHFSAllowedOptions())
		}
	}
	return nil
}

var (
	sshUserRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
	hostRE    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// checkSSHHost accepts a host name or an IP literal, nothing that sshfs
// or ssh could read as an option or a shell could interpret.
func checkSSHHost(name, host string) error {
	if net.ParseIP(host) != nil && !strings.Contains(host, "%") {
		return nil
	}
	if len(host) <= 253 && hostRE.MatchString(host) {
		return nil
	}
	return fmt.Errorf("volume %s: parameter host %q: want a host name or an IP address", name, host)
}

func checkSSHUser(name, user string) error {
	if len(user) > 32 || !sshUserRE.MatchString(user) {
		return fmt.Errorf("volume %s: parameter user %q: want a user name matching %s", name, user, sshUserRE)
	}
	return nil
}

func checkSSHPort(name, port string) error {
	if n, err := strconv.Atoi(port); !isDecimal(port) || err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("volume %s: parameter port %q: want 1-65535", name, port)
	}
	return nil
}

// checkSSHBase refuses a path parameter that is not one of bases or
// under one: Provision chmods and Delete removes path/handle as the
// storage host's user, so a volume must not choose where.
func checkSSHBase(name, dir string, bases []string) (clean, base string, err error) {
	if len(bases) == 0 {
		return "", "", fmt.Errorf("volume %s: the sshfs driver has no allowed base path on the storage host; set the agent's --volume-ssh-base-path", name)
	}
	if !path.IsAbs(dir) || slices.Contains(strings.Split(dir, "/"), "..") || strings.ContainsRune(dir, 0) {
		return "", "", fmt.Errorf("volume %s: parameter path %q must be absolute, without a \"..\" element", name, dir)
	}
	clean = path.Clean(dir)
	for _, b := range bases {
		b = path.Clean(b)
		if clean == b || strings.HasPrefix(clean, strings.TrimSuffix(b, "/")+"/") {
			return clean, b, nil
		}
	}
	return "", "", fmt.Errorf("volume %s: parameter path %q is not under an allowed base path of the agent (--volume-ssh-base-path: %s)", name, dir, strings.Join(bases, ", "))
}

// noSymlinks is a shell snippet, run on the storage host before
// Provision's chmod and Delete's rm, that fails when an element of t.dir
// below its base path is a symbolic link: a pod can plant one in its own
// volume (base/pvc-a/link → /etc), and a PV whose path is base/pvc-a and
// whose handle is link would otherwise chmod or remove what it points at.
// (A pod that swaps a directory for a link between this check and the
// command still races it; docs/volume-drivers.md says so.)
func noSymlinks(t sshTarget) string {
	var b strings.Builder
	p := t.base
	for _, c := range strings.Split(strings.TrimPrefix(t.dir, t.base), "/") {
		if c == "" {
			continue
		}
		p = path.Join(p, c)
		q := shellQuote(p)
		fmt.Fprintf(&b, "if [ -L %s ]; then echo refusing: a symbolic link: %s >&2; exit 3; fi; ", q, q)
	}
	return b.String()
}
