package server

import (
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// errorEntries turns a spec.Load error into API entries.
func errorEntries(err error) []api.ErrorEntry {
	return []api.ErrorEntry{{Message: err.Error()}}
}
