package main

import (
	"testing"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/runtime"
)

func TestHostIP(t *testing.T) {
	for _, tc := range []struct {
		advertise, api, want string
	}{
		{"http://10.0.0.7:7946", "0.0.0.0:7946", "10.0.0.7"},
		{"", "192.0.2.4:7946", "192.0.2.4"},
		{"", "0.0.0.0:7946", ""},
		{"http://node-1.example:7946", "127.0.0.1:7946", "127.0.0.1"},
	} {
		if got := hostIP(agent.Config{AdvertiseAPI: tc.advertise, APIAddr: tc.api}); got != tc.want {
			t.Errorf("hostIP(%q, %q) = %q, want %q", tc.advertise, tc.api, got, tc.want)
		}
	}
	rc := withVolumes(agent.Config{AllowHostPaths: true, AllocatableMemory: 1 << 30}, nil, runtime.Config{NodeName: "n"})
	if !rc.AllowHostPaths || rc.AllocatableMemory != 1<<30 {
		t.Errorf("withVolumes: %+v", rc)
	}
}
