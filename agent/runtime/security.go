package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Security contexts, mapped onto the OCI spec as the kubelet and
// containerd's CRI plugin map them (kuberuntime_container.go,
// internal/cri/server/container_create*.go):
//
//   - runAsUser/runAsGroup (the container's over the pod's) replace the
//     image's USER; a UID alone takes its primary GID from the image's
//     /etc/passwd (0 if absent), as oci.WithUserID does. Without them the
//     image's USER applies, a name resolved through its /etc/passwd.
//   - The groups the image's /etc/group gives the user, the pod's
//     supplementalGroups and its fsGroup are the process's additional GIDs.
//   - runAsNonRoot refuses, with the kubelet's messages, a container that
//     would run as UID 0 or whose image user is a name (it cannot be
//     verified): CreateContainerConfigError.
//   - capabilities: add/drop over containerd's default set; "ALL" in add or
//     drop first sets all or none, then the individual names apply. Names
//     are taken with or without CAP_, in any case.
//   - capabilities added beyond Kubernetes' baseline pod security standard
//     (spec.BaselineCapabilities; ALL counts as beyond) are refused unless
//     Config.AllowPrivileged, as privileged is: NET_ADMIN or SYS_ADMIN give
//     a container much of what privileged does.
//   - no_new_privs is set unless allowPrivilegeEscalation is true or the
//     container is privileged: containerd's default, safer than
//     Kubernetes' (which sets it only when allowPrivilegeEscalation is
//     false), so that a setuid binary in an image gives no root.
//   - privileged: every capability, the host's devices, no seccomp, no
//     masked or read-only /proc paths; refused unless Config.AllowPrivileged.
//   - a pod's hostNetwork is refused unless Config.AllowPrivileged too: the
//     namespace's policy puts it in the privileged column (its
//     stevedore.dev/allow-privileged annotation, the privileged level),
//     and the node's switch is the same one, so a node without
//     --allow-privileged runs nothing that policy calls privileged.
//   - readOnlyRootFilesystem mounts the image's root file system read-only.
//   - seccompProfile: RuntimeDefault is containerd's default profile, and
//     so is no profile (the kubelet's default is Unconfined: here a
//     container is confined unless it asks for Unconfined; pod security
//     admission will decide who may ask, as it does for privileged);
//     Localhost is refused.
//   - the capabilities without add/drop are containerd's default set,
//     Kubernetes' (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW,
//     SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT,
//     KILL, AUDIT_WRITE): no SYS_ADMIN, NET_ADMIN.
//   - a pids limit per pod (Config.PodPidsLimit, podcgroup.go), on the
//     pod's cgroup, parent of its containers'.

// createFailureReason is the waiting reason of a container whose creation
// failed with err.
func createFailureReason(err error) string {
	var ce *configError
	if errors.As(err, &ce) {
		return api.ReasonCreateConfigErr
	}
	return api.ReasonCreateContainerErr
}

// securityContext is a container's effective security settings: its own
// over the pod's (the kubelet's DetermineEffectiveSecurityContext).
type securityContext struct {
	runAsUser, runAsGroup *int64
	runAsNonRoot          bool
	groups                []int64 // supplementalGroups and fsGroup
	seccomp               *spec.SeccompProfile
	c                     spec.SecurityContext
}

func effectiveSecurity(ps *spec.PodSecurityContext, cs *spec.SecurityContext) securityContext {
	var sc securityContext
	if ps != nil {
		sc.runAsUser, sc.runAsGroup, sc.seccomp = ps.RunAsUser, ps.RunAsGroup, ps.SeccompProfile
		sc.runAsNonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		sc.groups = append(sc.groups, ps.SupplementalGroups...)
		if ps.FSGroup != nil {
			sc.groups = append(sc.groups, *ps.FSGroup)
		}
	}
	if cs != nil {
		sc.c = *cs
		if cs.RunAsUser != nil {
			sc.runAsUser = cs.RunAsUser
		}
		if cs.RunAsGroup != nil {
			sc.runAsGroup = cs.RunAsGroup
		}
		if cs.RunAsNonRoot != nil {
			sc.runAsNonRoot = *cs.RunAsNonRoot
		}
		if cs.SeccompProfile != nil {
			sc.seccomp = cs.SeccompProfile
		}
	}
	return sc
}

// securityOpts returns the OCI options of c's security context, applied
// after oci.WithImageConfig; imageUser is the image's USER. An error is a
// *configError.
func (w *podWorker) securityOpts(c *ctr, imageUser string) ([]oci.SpecOpts, error) {
	if w.hostNetwork() && !w.r.cfg.AllowPrivileged {
		return nil, configErrorf("container %s is in a pod that uses the host's network (hostNetwork), and this node does not allow host-network pods (agent --allow-privileged)", c.spec.Name)
	}
	sc := effectiveSecurity(w.pod.Spec.SecurityContext, c.spec.SecurityContext)
	privileged := isTrue(sc.c.Privileged)
	if privileged && !w.r.cfg.AllowPrivileged {
		return nil, configErrorf("container %s is privileged, and this node does not allow privileged containers (agent --allow-privileged)", c.spec.Name)
	}
	if err := checkAddedCapabilities(c.spec.Name, sc.c.Capabilities, w.r.cfg.AllowPrivileged); err != nil {
		return nil, err
	}
	if err := verifyRunAsNonRoot(sc, imageUser, w.pod, c.spec.Name); err != nil {
		return nil, err
	}
	var opts []oci.SpecOpts
	if sc.runAsUser != nil || sc.runAsGroup != nil {
		user := imageUserName(imageUser)
		if sc.runAsUser != nil {
			user = strconv.FormatInt(*sc.runAsUser, 10)
		}
		userstr := user
		if sc.runAsGroup != nil {
			userstr += ":" + strconv.FormatInt(*sc.runAsGroup, 10)
		}
		opts = append(opts, oci.WithUser(userstr), withMergedGIDs(oci.WithAdditionalGIDs(user)))
	}
	if len(sc.groups) > 0 {
		opts = append(opts, withSupplementalGroups(sc.groups))
	}
	if privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithHostDevices, oci.WithAllDevicesAllowed)
	} else if caps := sc.c.Capabilities; caps != nil {
		opts = append(opts, capabilityOpts(caps)...)
	}
	if noNewPrivileges(sc, privileged) {
		opts = append(opts, oci.WithNoNewPrivileges)
	} else {
		opts = append(opts, oci.WithNewPrivileges)
	}
	if isTrue(sc.c.ReadOnlyRootFilesystem) {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if !privileged {
		// No profile asked for is RuntimeDefault (not the kubelet's
		// Unconfined): the safe default.
		typ := spec.SeccompProfileRuntimeDefault
		if sc.seccomp != nil {
			typ = sc.seccomp.Type
		}
		switch typ {
		case spec.SeccompProfileRuntimeDefault:
			// After the capabilities: the profile allows the system
			// calls they need.
			opts = append(opts, seccomp.WithDefaultProfile())
		case spec.SeccompProfileUnconfined:
			opts = append(opts, oci.WithSeccompUnconfined)
		default:
			return nil, configErrorf("container %s: seccompProfile type %q is not supported (RuntimeDefault or Unconfined)", c.spec.Name, typ)
		}
	}
	return opts, nil
}

// noNewPrivileges says whether the container runs with no_new_privs:
// always, unless it is privileged or says allowPrivilegeEscalation: true.
func noNewPrivileges(sc securityContext, privileged bool) bool {
	return !privileged && !isTrue(sc.c.AllowPrivilegeEscalation)
}

// checkAddedCapabilities refuses, unless allowPrivileged, a capability
// added beyond Kubernetes' baseline (ALL included). The error is a
// *configError.
func checkAddedCapabilities(container string, caps *spec.Capabilities, allowPrivileged bool) error {
	if caps == nil || allowPrivileged {
		return nil
	}
	for _, n := range caps.Add {
		name, _ := spec.CapabilityName(n)
		if name == spec.CapabilityAll || !slices.Contains(spec.BaselineCapabilities, name) {
			return configErrorf("container %s adds capability %s, beyond Kubernetes' baseline, and this node does not allow privileged containers (agent --allow-privileged)", container, n)
		}
	}
	return nil
}

// imageUserName is the user part of an image's USER ("name", "uid",
// "uid:gid"), "0" when it has none.
func imageUserName(imageUser string) string {
	u, _, _ := strings.Cut(imageUser, ":")
	if u == "" {
		return "0"
	}
	return u
}

// verifyRunAsNonRoot is the kubelet's check, with its messages.
func verifyRunAsNonRoot(sc securityContext, imageUser string, pod api.Pod, container string) error {
	if !sc.runAsNonRoot {
		return nil
	}
	podRef := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
	if sc.runAsUser != nil {
		if *sc.runAsUser == 0 {
			return configErrorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podRef, container)
		}
		return nil
	}
	user := imageUserName(imageUser)
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return configErrorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, podRef, container)
	case uid == 0:
		return configErrorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podRef, container)
	}
	return nil
}

// capabilityOpts is containerd CRI's WithCapabilities: "ALL" first, then
// the individual names.
func capabilityOpts(caps *spec.Capabilities) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if hasAll(caps.Add) {
		opts = append(opts, oci.WithAllCurrentCapabilities)
	}
	if hasAll(caps.Drop) {
		opts = append(opts, oci.WithCapabilities(nil))
	}
	if add := capNames(caps.Add); len(add) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(add))
	}
	if drop := capNames(caps.Drop); len(drop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(drop))
	}
	return opts
}

func hasAll(names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, "ALL") })
}

// capNames turns Kubernetes' names (NET_ADMIN, net_admin, CAP_NET_ADMIN)
// into the OCI spec's (CAP_NET_ADMIN), leaving out ALL.
func capNames(names []string) []string {
	var out []string
	for _, n := range names {
		n = strings.ToUpper(n)
		if n == "ALL" {
			continue
		}
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out
}

// withMergedGIDs runs opt (which replaces the additional GIDs) and keeps
// the GIDs set before it (containerd CRI's WithAdditionalGIDs).
func withMergedGIDs(opt oci.SpecOpts) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *specs.Spec) error {
		var before []uint32
		if s.Process != nil {
			before = slices.Clone(s.Process.User.AdditionalGids)
		}
		if err := opt(ctx, cl, c, s); err != nil {
			return err
		}
		s.Process.User.AdditionalGids = mergeGIDs(s.Process.User.AdditionalGids, before)
		return nil
	}
}

// withSupplementalGroups adds GIDs to the process's additional ones.
func withSupplementalGroups(groups []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		gids := make([]uint32, 0, len(groups))
		for _, g := range groups {
			gids = append(gids, uint32(g))
		}
		s.Process.User.AdditionalGids = mergeGIDs(s.Process.User.AdditionalGids, gids)
		return nil
	}
}

// mergeGIDs is the sorted union of a and b.
func mergeGIDs(a, b []uint32) []uint32 {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
