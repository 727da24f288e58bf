package agent

import (
	"errors"
	"fmt"
	"net/http"

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
