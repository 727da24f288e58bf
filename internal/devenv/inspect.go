package devenv

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/stevedore-dev/stevedore/agent/runtime"
)

// NodeContainer is one container an agent created, as containerd (not the
// agent) reports it: what tests check while the agent cannot be asked.
type NodeContainer struct {
	// ID is containerd's container ID.
	ID string
	// PodUID, PodNamespace, PodName and Container come from the labels
	// agent/runtime sets.
	PodUID       string
	PodNamespace string
	PodName      string
	Container    string
	// Status is the task's status ("running", "stopped", …), or "" when
	// the container has no task.
	Status string
}

// KillTask sends sig to the task of container id in node's containerd
// namespace: a container that dies under its agent, as a crash would.
func (c *Cluster) KillTask(ctx context.Context, node, id string, sig syscall.Signal) error {
	cl, err := client.New(c.Containerd.Address, client.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("failed to connect to containerd: %w", err)
	}
	defer cl.Close()
	ctx = namespaces.WithNamespace(ctx, NodeNamespace(node))
	ctr, err := cl.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("failed to load container %s: %w", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return fmt.Errorf("failed to get the task of %s: %w", id, err)
	}
	return task.Kill(ctx, sig)
}

// NodeContainers lists the containers in node's containerd namespace,
// straight from the cluster's containerd.
func (c *Cluster) NodeContainers(ctx context.Context, node string) ([]NodeContainer, error) {
	cl, err := client.New(c.Containerd.Address, client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("failed to connect to containerd: %w", err)
	}
	defer cl.Close()
	ctx = namespaces.WithNamespace(ctx, NodeNamespace(node))
	ctrs, err := cl.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to list containers of %s: %w", node, err)
	}
	out := make([]NodeContainer, 0, len(ctrs))
	for _, ctr := range ctrs {
		labels, err := ctr.Labels(ctx)
		if errdefs.IsNotFound(err) {
			continue // deleted while we listed
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read labels of %s: %w", ctr.ID(), err)
		}
		nc := NodeContainer{
			ID:           ctr.ID(),
			PodUID:       labels[runtime.LabelPodUID],
			PodNamespace: labels[runtime.LabelPodNamespace],
			PodName:      labels[runtime.LabelPodName],
			Container:    labels[runtime.LabelContainer],
		}
		if task, err := ctr.Task(ctx, nil); err == nil {
			if st, err := task.Status(ctx); err == nil {
				nc.Status = string(st.Status)
			}
		} else if !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("failed to read the task of %s: %w", ctr.ID(), err)
		}
		out = append(out, nc)
	}
	return out, nil
}

// NetLeftovers lists the network namespaces and links of the cluster's
// prefix that exist on the host. After Stop it must be empty; without
// Netns it always is.
func (c *Cluster) NetLeftovers(ctx context.Context) ([]string, error) {
	if c.net == nil {
		return nil, nil
	}
	return c.net.leftovers(ctx)
}

// BridgeAddr returns the address of the cluster's bridge ("" without
// Netns): where the root namespace reaches the processes from, and where
// the registry listens.
func (c *Cluster) BridgeAddr() string {
	if c.net == nil {
		return ""
	}
	return c.net.gateway().String()
}
