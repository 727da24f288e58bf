// Command stevedore-log-driver is a container's log driver (containerd's
// binary logging; agent/containerlog): the agent points the shim at it when
// it sits beside the agent's executable. It links only containerlog, so it
// starts in a few milliseconds where the agent's own executable, the
// fallback, takes tens: every container start waits for its driver.
package main

import (
	"fmt"
	"os"

	"github.com/stevedore-dev/stevedore/agent/containerlog"
)

func main() {
	containerlog.RunDriverIfRequested()
	fmt.Fprintln(os.Stderr, "stevedore-log-driver: started by containerd's shim as a container's log driver, not by hand")
	os.Exit(2)
}
