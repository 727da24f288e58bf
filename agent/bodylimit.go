package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// maxPodSetBytes bounds PUT /v1/podset. A node's set holds its pods (at
// most 110 by default, each under Kubernetes' 1.5 MiB) and the Services
// and endpoints it serves: 64 MiB is generous, and a body past it is
// answered 413 before it is decoded.
const maxPodSetBytes = 64 << 20

// writeDecodeError answers a request whose body failed to decode: 413
// when it was over limit (http.MaxBytesReader's error), else 400.
func writeDecodeError(w http.ResponseWriter, what string, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		errs.WriteHTTPStatus(w, http.StatusRequestEntityTooLarge,
			invalid(fmt.Sprintf("%s larger than %d bytes: refused unread", what, tooBig.Limit)))
		return
	}
	errs.WriteHTTP(w, invalid("failed to decode "+what+": "+err.Error()))
}

// decodePodSet decodes the one JSON document of a PUT /v1/podset body.
// An agent that does not understand a field refuses the set rather than
// run pods without what the field asked for.
func decodePodSet(r io.Reader) (api.PodSet, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var ps api.PodSet
	if err := dec.Decode(&ps); err != nil {
		return api.PodSet{}, err
	}
	if dec.More() {
		return api.PodSet{}, errors.New("trailing data after the JSON document")
	}
	return ps, nil
}
