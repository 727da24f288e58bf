package main

import (
	"github.com/spf13/pflag"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/internal/flagvalue"
)

// logFlags are the container log rotation flags, the kubelet's
// --container-log-max-size and --container-log-max-files.
func logFlags(f *pflag.FlagSet, cfg *agent.Config) {
	f.Var((*flagvalue.Bytes)(&cfg.ContainerLogMaxSize), "container-log-max-size", "size at which a container's log file is rotated, a Kubernetes quantity (docs/logs.md)")
	f.IntVar(&cfg.ContainerLogMaxFiles, "container-log-max-files", cfg.ContainerLogMaxFiles, "how many files each container's log keeps, the current one included; at least 2")
}
