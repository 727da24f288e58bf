package runtime

import (
	"fmt"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// The image events of a container start, worded as the kubelet words them
// (pkg/kubelet/images): Pulling before a pull, Pulled after it or when the
// image was there, Failed and BackOff when it could not be had.

func (w *podWorker) pulledEvent(c *ctr, pulled bool, took time.Duration) {
	if pulled {
		w.event(c.spec.Name, api.EventNormal, api.EventPulled, fmt.Sprintf("Successfully pulled image %q in %s", c.spec.Image, took.Round(time.Millisecond)))
		return
	}
	w.event(c.spec.Name, api.EventNormal, api.EventPulled, fmt.Sprintf("Container image %q already present on machine", c.spec.Image))
}

func (w *podWorker) pullFailedEvents(c *ctr, reason string, err error) {
	if reason == api.ReasonErrImagePull {
		w.event(c.spec.Name, api.EventWarning, api.EventFailed, fmt.Sprintf("Failed to pull image %q: %v", c.spec.Image, err))
	} else {
		w.event(c.spec.Name, api.EventWarning, api.EventFailed, fmt.Sprintf("Container image %q is not present with pull policy of Never", c.spec.Image))
	}
	w.event(c.spec.Name, api.EventWarning, api.EventFailed, "Error: "+reason)
}

func (w *podWorker) pullBackOffEvents(c *ctr) {
	w.event(c.spec.Name, api.EventNormal, api.EventBackOff, fmt.Sprintf("Back-off pulling image %q", c.spec.Image))
	w.event(c.spec.Name, api.EventWarning, api.EventFailed, "Error: "+api.ReasonImagePullBackOff)
}
