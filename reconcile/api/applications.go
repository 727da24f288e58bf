package api

import (
	"net/url"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// PathApplications lists the applications (GET → ApplicationList);
// PathApplication is one (GET → Application, with its objects). POST
// PathSync?app=NAME syncs one application.
const (
	PathApplications = "/v1/applications"
	PathApplication  = "/v1/applications/{name}"
)

// ApplicationPath is the path of one application.
func ApplicationPath(name string) string { return PathApplications + "/" + url.PathEscape(name) }

// Sync states of an application, as Argo CD names them.
const (
	// SyncSynced: the branch head at the last fetch is the applied revision.
	SyncSynced = "Synced"
	// SyncOutOfSync: the head is not applied yet (or nothing was fetched
	// yet), or the application was removed from the bootstrap application
	// and its objects were left running (prune off).
	SyncOutOfSync = "OutOfSync"
	// SyncFailed: the last sync failed (fetch, load, conflict); the last
	// good revision keeps running.
	SyncFailed = "Failed"
)

// Health of an application or one of its workloads, as Argo CD names them.
const (
	HealthHealthy     = "Healthy"
	HealthProgressing = "Progressing"
	HealthDegraded    = "Degraded"
)

// ApplicationList is the answer to GET /v1/applications: the bootstrap
// application first, then by name.
type ApplicationList struct {
	Applications []Application `json:"applications"`
}

// Application is one tracked source and its state.
type Application struct {
	Name string `json:"name"`
	// Bootstrap is true for the application of the reconciler's --repo,
	// which may declare the others.
	Bootstrap bool `json:"bootstrap,omitempty"`
	// Repo (credentials stripped), Branch and Path are its source.
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Path   string `json:"path,omitempty"`
	// Prune: objects removed from its files (or all of them when it is
	// deleted) are removed from the cluster.
	Prune bool `json:"prune"`
	// CommitURL links a commit of its repository on the forge: a template
	// in which "{hash}" stands for the commit's hash (the reconciler's
	// --commit-url, or derived from a GitHub, GitLab or Gitea/Forgejo
	// https URL); empty when none is known.
	CommitURL string `json:"commitURL,omitempty"`
	// Applied is its last good revision's commit and AppliedAt when this
	// reconciler applied it; Fetched the head at its last fetch.
	Applied   *Commit   `json:"applied,omitempty"`
	AppliedAt time.Time `json:"appliedAt,omitempty"`
	Fetched   *Commit   `json:"fetched,omitempty"`
	LastSync  time.Time `json:"lastSync,omitempty"`
	// Created is when its first revision was applied (zero before).
	Created   time.Time  `json:"created,omitempty"`
	LastError *SyncError `json:"lastError,omitempty"`
	// Sync is SyncSynced, SyncOutOfSync or SyncFailed; Health is
	// HealthHealthy, HealthProgressing or HealthDegraded, HealthMessage
	// the first reason for it.
	Sync          string `json:"sync"`
	Health        string `json:"health"`
	HealthMessage string `json:"healthMessage,omitempty"`
	// Message says what else an operator should know (an application
	// removed with prune off, objects kept running).
	Message string `json:"message,omitempty"`
	// Retained are objects removed from its files and kept running
	// because it does not prune.
	Retained []spec.ObjectKey `json:"retained,omitempty"`
	// Objects are the objects it owns, sorted by kind, namespace and name.
	Objects []ApplicationObject `json:"objects,omitempty"`
}

// ApplicationObject is one object of an application.
type ApplicationObject struct {
	Key spec.ObjectKey `json:"key"`
	// File and Line declare it (relative to the application's path).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Health is set for workloads and pods.
	Health  string `json:"health,omitempty"`
	Message string `json:"message,omitempty"`
}
