package runtime

import (
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// event records something that happened to the pod (container "") or one
// of its containers, with the kubelet's reason names (api.Event*). typ is
// api.EventNormal or api.EventWarning.
func (w *podWorker) event(container, typ, reason, msg string) {
	sink := w.r.cfg.Events
	if sink == nil {
		return
	}
	sink(api.Event{
		Time:      time.Now().UTC(),
		Object:    "Pod/" + w.pod.Namespace + "/" + w.pod.Name,
		UID:       w.pod.UID,
		Container: container,
		Type:      typ,
		Reason:    reason,
		Message:   msg,
	})
}
