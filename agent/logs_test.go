package agent

import "testing"

func TestConfigContainerLogs(t *testing.T) {
	cfg, err := Config{NodeName: "n1"}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ContainerLogMaxSize != 10<<20 || cfg.ContainerLogMaxFiles != 5 {
		t.Errorf("defaults: %d × %d, want the kubelet's 10Mi × 5", cfg.ContainerLogMaxSize, cfg.ContainerLogMaxFiles)
	}
	if d := DefaultConfig(); d.ContainerLogMaxSize != cfg.ContainerLogMaxSize || d.ContainerLogMaxFiles != cfg.ContainerLogMaxFiles {
		t.Errorf("DefaultConfig: %d × %d", d.ContainerLogMaxSize, d.ContainerLogMaxFiles)
	}
	for name, c := range map[string]Config{
		"one file":       {ContainerLogMaxFiles: 1},
		"negative files": {ContainerLogMaxFiles: -1},
		"tiny files":     {ContainerLogMaxSize: 1000},
		"negative size":  {ContainerLogMaxSize: -1},
	} {
		c.NodeName = "n1"
		if _, err := c.WithDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
