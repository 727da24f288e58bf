package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
)

// scrapeConfig is a ServiceMonitor-free Prometheus configuration scraping
// the cluster's reconcilers and agents by static targets (docs/metrics.md
// shows the same for `make run`).
func scrapeConfig(c *devenv.Cluster, interval time.Duration) string {
	var recs, agents []string
	for _, r := range c.Reconcilers {
		recs = append(recs, strconv.Quote(r.APIAddr))
	}
	for _, a := range c.Agents {
		agents = append(agents, strconv.Quote(a.APIAddr))
	}
	// /metrics needs credentials (docs/security.md): a certificate in
	// stevedore:monitoring, which reads /metrics and nothing else.
	tlsConf := ""
	if cr := c.Creds; cr != nil {
		tlsConf = fmt.Sprintf(`    scheme: https
    tls_config:
      ca_file: %s
      cert_file: %s
      key_file: %s
`, strconv.Quote(cr.CAFile), strconv.Quote(cr.MonitorCertFile), strconv.Quote(cr.MonitorKeyFile))
	}
	return fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: stevedore-reconciler
%[4]s    static_configs:
      - targets: [%[2]s]
  - job_name: stevedore-agent
%[4]s    static_configs:
      - targets: [%[3]s]
`, interval, strings.Join(recs, ", "), strings.Join(agents, ", "), tlsConf)
}

// writeScrapeConfig writes the cluster's Prometheus configuration to
// prometheus.yml in its directory (make run prints where) and returns the
// file's path.
func writeScrapeConfig(c *devenv.Cluster) (string, error) {
	path := filepath.Join(c.Dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(scrapeConfig(c, 5*time.Second)), 0o644); err != nil {
		return "", fmt.Errorf("failed to write the Prometheus config: %w", err)
	}
	return path, nil
}
