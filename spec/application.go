package spec

import (
	"path"
	"strings"
)

// StevedoreV1alpha1 is the API group of Stevedore's own kinds, which have no
// Kubernetes counterpart.
const StevedoreV1alpha1 = "stevedore.dev/v1alpha1"

// KindApplication is an application: a further source (repository, branch,
// path) whose objects the reconciler deploys beside the bootstrap
// repository's. Applications are read from the bootstrap repository only
// (Argo CD's app-of-apps, Flux's bootstrap).
const KindApplication = "Application"

// Application declares one application. It is cluster-scoped: its name is
// unique in the cluster and names the application in the API and ctl.
type Application struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: its name is the application's
	// name (the Application is cluster-scoped).
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is where the application's manifests come from and how they
	// are applied.
	Spec ApplicationSpec `json:"spec"`
}

// ApplicationSpec is what an application deploys and how.
type ApplicationSpec struct {
	// Source is where the application's manifests are.
	Source ApplicationSource `json:"source"`
	// Prune removes what the application no longer declares (objects
	// removed from its files, or all of them when the Application object is
	// deleted). Nil means true. With false, removed objects keep running
	// and the application's status lists them.
	Prune *bool `json:"prune,omitempty"`
}

// ApplicationSource is a repository, branch and path, as Argo CD's
// spec.source names them.
type ApplicationSource struct {
	// RepoURL is the repository: a path, file://, http(s)://, ssh:// or
	// user@host:path. The reconciler's credentials (--ssh-key,
	// --known-hosts, --token-file) apply to it.
	RepoURL string `json:"repoURL"`
	// TargetRevision is the branch to track; empty means "main".
	// "refs/heads/B" is the same as "B".
	TargetRevision string `json:"targetRevision,omitempty"`
	// Path is the sub-directory holding the manifests; empty means the
	// whole tree.
	Path string `json:"path,omitempty"`
}

// PruneEnabled reports whether the application prunes (the default).
func (a *Application) PruneEnabled() bool { return a.Spec.Prune == nil || *a.Spec.Prune }

func defaultApplication(a *Application) {
	s := &a.Spec.Source
	s.TargetRevision = strings.TrimPrefix(s.TargetRevision, "refs/heads/")
	if s.TargetRevision == "" {
		s.TargetRevision = "main"
	}
	if p := strings.ReplaceAll(s.Path, "\\", "/"); !strings.Contains("/"+p+"/", "/../") {
		// Validation reports a path leaving the repository as written.
		s.Path = strings.Trim(path.Clean("/"+p), "/")
	}
	if a.Spec.Prune == nil {
		t := true
		a.Spec.Prune = &t
	}
}

func (v *validator) application(a *Application) {
	// The name is a directory of the reconciler's data dir and a label
	// value: a DNS-1123 label.
	v.objectMeta(&a.ObjectMeta, false, isDNS1123Label)
	p := fieldPath("spec.source")
	s := a.Spec.Source
	if strings.TrimSpace(s.RepoURL) == "" {
		v.add(p.child("repoURL"), "required: the repository of the application")
	}
	if r := s.TargetRevision; strings.HasPrefix(r, "refs/") || strings.HasPrefix(r, "-") || strings.HasSuffix(r, ".lock") ||
		strings.Contains(r, "..") || strings.ContainsAny(r, " ~^:?*[\\") || r == "HEAD" {
		v.add(p.child("targetRevision"), "invalid value %q: must be a branch name (tags, commits and HEAD are not supported by Stevedore)", r)
	}
	for _, seg := range strings.Split(s.Path, "/") {
		if seg == ".." {
			v.add(p.child("path"), "invalid value %q: must stay inside the repository (no \"..\")", s.Path)
			break
		}
	}
}

// ApplicationNameError returns why name cannot name an application (it
// must be a DNS-1123 label), "" when it can.
func ApplicationNameError(name string) string { return isDNS1123Label(name) }
