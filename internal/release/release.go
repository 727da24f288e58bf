// Package release holds what checks Stevedore's release artefacts: the
// reproducibility test of scripts/release.sh (what `make release` runs) and
// the reading of the systemd units under deploy/systemd, whose flags the
// daemons' own tests look up in their flag sets.
package release

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// UnitFlags returns the long flags (without "--" or "=value") a unit's
// ExecStart passes to its binary, with those of the environment file's
// variables ExecStart expands ($NAME or ${NAME}). unit and env are the
// files' contents; env may be empty.
func UnitFlags(unit, env []byte) (binary string, flags []string, err error) {
	vars, err := envFile(env)
	if err != nil {
		return "", nil, err
	}
	var exec string
	for _, line := range lines(unit) {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			if exec != "" {
				return "", nil, fmt.Errorf("failed to read the unit: ExecStart given twice")
			}
			exec = v
		}
	}
	if exec == "" {
		return "", nil, fmt.Errorf("failed to read the unit: no ExecStart")
	}
	words := strings.Fields(exec)
	binary = words[0]
	for _, w := range words[1:] {
		if name, ok := strings.CutPrefix(w, "$"); ok {
			name = strings.TrimSuffix(strings.TrimPrefix(name, "{"), "}")
			v, ok := vars[name]
			if !ok {
				return "", nil, fmt.Errorf("failed to read the unit: ExecStart expands $%s, which the environment file does not set", name)
			}
			for _, vw := range strings.Fields(v) {
				f, err := flagName(vw)
				if err != nil {
					return "", nil, err
				}
				flags = append(flags, f)
			}
			continue
		}
		f, err := flagName(w)
		if err != nil {
			return "", nil, err
		}
		flags = append(flags, f)
	}
	return binary, flags, nil
}

func flagName(w string) (string, error) {
	name, ok := strings.CutPrefix(w, "--")
	if !ok {
		return "", fmt.Errorf("failed to read the unit: %q is not a --flag=value (write each flag with its value joined by =)", w)
	}
	name, _, _ = strings.Cut(name, "=")
	return name, nil
}

// envFile reads systemd's EnvironmentFile format as far as the units use it:
// NAME=value lines, the value optionally in double quotes, # comments.
func envFile(b []byte) (map[string]string, error) {
	vars := map[string]string{}
	for _, line := range lines(b) {
		name, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("failed to read the environment file: %q is not NAME=value", line)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		vars[strings.TrimSpace(name)] = v
	}
	return vars, nil
}

// lines returns the non-empty, non-comment lines, trimmed.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		out = append(out, l)
	}
	return out
}
