package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent"
)

// logFlags are the container log rotation flags, the kubelet's
// --container-log-max-size and --container-log-max-files.
func logFlags(f *pflag.FlagSet, cfg *agent.Config) {
	f.Var((*quantityBytes)(&cfg.ContainerLogMaxSize), "container-log-max-size", "size at which a container's log file is rotated, a Kubernetes quantity (docs/logs.md)")
	f.IntVar(&cfg.ContainerLogMaxFiles, "container-log-max-files", cfg.ContainerLogMaxFiles, "how many files each container's log keeps, the current one included; at least 2")
}

// quantityBytes is a byte count given as a Kubernetes quantity (10Mi).
type quantityBytes int64

func (q *quantityBytes) String() string {
	return resource.NewQuantity(int64(*q), resource.BinarySI).String()
}

func (q *quantityBytes) Set(s string) error {
	v, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("want a quantity such as 10Mi: %w", err)
	}
	*q = quantityBytes(v.Value())
	return nil
}

func (q *quantityBytes) Type() string { return "quantity" }
