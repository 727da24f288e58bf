package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/volume"
)

// volumeFlags maps the --volume-* flags onto cfg.Volumes.
func volumeFlags(f *pflag.FlagSet, cfg *agent.Config) {
	v := &cfg.Volumes
	f.StringVar(&v.PluginDir, "volume-plugin-dir", volume.DefaultPluginDir, "directory of out-of-process volume drivers (<provisioner with / as ~>, docs/volume-drivers.md)")
	f.DurationVar(&v.PluginTimeout, "volume-plugin-timeout", volume.DefaultExecTimeout, "how long one call of a volume plug-in may take")
	f.StringVar(&v.LocalDirRoot, "volume-local-dir-root", "", "where stevedore.dev/local-dir keeps its volumes (default: DATA-DIR/volumes/local-dir)")
	f.StringVar(&v.LocalBlockRoot, "volume-local-block-root", "", "where stevedore.dev/local-block keeps its images (default: DATA-DIR/volumes/local-block)")
	f.StringVar(&v.SSHIdentityFile, "volume-ssh-identity", "", "private key stevedore.dev/sshfs logs in to storage hosts with")
	f.StringVar(&v.SSHKnownHostsFile, "volume-ssh-known-hosts", "", "known_hosts file with the storage hosts' keys for stevedore.dev/sshfs")
	f.StringArrayVar(&v.SSHBasePaths, "volume-ssh-base-path", nil, "directory on the storage hosts under which stevedore.dev/sshfs volumes may live (a StorageClass's path parameter must be it or under it; repeatable); none refuses sshfs volumes")
}

// teardownVolumes unmounts every volume the agent's manager mounted.
func teardownVolumes(ctx context.Context, cfg agent.Config) error {
	vm, err := volume.NewManager(cfg.Volumes)
	if err != nil {
		return err
	}
	if err := vm.Teardown(ctx); err != nil {
		return fmt.Errorf("failed to tear down volumes: %w", err)
	}
	return nil
}
