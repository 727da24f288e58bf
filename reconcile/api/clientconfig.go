package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
)

// PathHealthz is the unauthenticated health check: "ok" while the
// process serves.
const PathHealthz = "/healthz"

// ClientConfig is ctl's credentials file (ctl --config, $STEVEDORE_CONFIG),
// shaped as a kubeconfig: apiVersion v1, kind Config, named clusters, users
// and contexts, and the current context. The reconciler writes one with an
// admin client certificate on first start (<data-dir>/admin.conf).
type ClientConfig struct {
	APIVersion     string          `json:"apiVersion"`
	Kind           string          `json:"kind"`
	Clusters       []NamedCluster  `json:"clusters"`
	Users          []NamedUser     `json:"users"`
	Contexts       []NamedContext  `json:"contexts"`
	CurrentContext string          `json:"current-context"`
	Preferences    *map[string]any `json:"preferences,omitempty"`
}

// NamedCluster is a reconciler cluster: where it listens and the CA its
// certificates come from.
type NamedCluster struct {
	Name    string        `json:"name"`
	Cluster ClusterConfig `json:"cluster"`
}

// ClusterConfig is kubeconfig's cluster.
type ClusterConfig struct {
	// Server is a reconciler's API URL, or a comma-separated list of a
	// highly available control plane's.
	Server string `json:"server"`
	// CertificateAuthorityData is the cluster CA's PEM certificate
	// (base64 in the file, as in a kubeconfig).
	CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
}

// NamedUser is a credential.
type NamedUser struct {
	Name string     `json:"name"`
	User UserConfig `json:"user"`
}

// UserConfig is kubeconfig's user: a bearer token, or a client certificate
// and its key (PEM, base64 in the file).
type UserConfig struct {
	Token                 string `json:"token,omitempty"`
	ClientCertificateData []byte `json:"client-certificate-data,omitempty"`
	ClientKeyData         []byte `json:"client-key-data,omitempty"`
}

// NamedContext pairs a cluster and a user.
type NamedContext struct {
	Name    string        `json:"name"`
	Context ContextConfig `json:"context"`
}

// ContextConfig is kubeconfig's context.
type ContextConfig struct {
	Cluster string `json:"cluster"`
	User    string `json:"user"`
}

// NewClientConfig is a one-cluster, one-user config.
func NewClientConfig(cluster, server string, caPEM []byte, userName string, user UserConfig) *ClientConfig {
	ctx := userName + "@" + cluster
	return &ClientConfig{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []NamedCluster{{Name: cluster, Cluster: ClusterConfig{Server: server, CertificateAuthorityData: caPEM}}},
		Users:          []NamedUser{{Name: userName, User: user}},
		Contexts:       []NamedContext{{Name: ctx, Context: ContextConfig{Cluster: cluster, User: userName}}},
		CurrentContext: ctx,
	}
}

// LoadClientConfig reads a config file. Errors name the file, never a
// credential.
func LoadClientConfig(path string) (*ClientConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read client config: %w", err)
	}
	var c ClientConfig
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("failed to parse client config %s: %w", path, err)
	}
	if c.Kind != "" && c.Kind != "Config" {
		return nil, fmt.Errorf("failed to parse client config %s: kind %q, want Config", path, c.Kind)
	}
	if _, _, err := c.current(); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	return &c, nil
}

// WriteClientConfig writes c to path, mode 0600.
func WriteClientConfig(path string, c *ClientConfig) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("failed to encode client config: %w", err)
	}
	return pki.WriteFile(path, b)
}

// current returns the current context's cluster and user.
func (c *ClientConfig) current() (*ClusterConfig, *UserConfig, error) {
	name := c.CurrentContext
	if name == "" && len(c.Contexts) == 1 {
		name = c.Contexts[0].Name
	}
	var cx *ContextConfig
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			cx = &c.Contexts[i].Context
		}
	}
	if cx == nil {
		return nil, nil, fmt.Errorf("no context %q", name)
	}
	var cl *ClusterConfig
	for i := range c.Clusters {
		if c.Clusters[i].Name == cx.Cluster {
			cl = &c.Clusters[i].Cluster
		}
	}
	if cl == nil {
		return nil, nil, fmt.Errorf("context %q names no cluster %q", name, cx.Cluster)
	}
	var u *UserConfig
	for i := range c.Users {
		if c.Users[i].Name == cx.User {
			u = &c.Users[i].User
		}
	}
	if u == nil {
		u = &UserConfig{}
	}
	return cl, u, nil
}

// Server is the current context's server URL (or list).
func (c *ClientConfig) Server() string {
	cl, _, err := c.current()
	if err != nil {
		return ""
	}
	return cl.Server
}

// HTTPClient is an *http.Client that trusts the current cluster's CA (a
// reconciler's certificate, whatever address it is reached at: see
// docs/security.md), presents the user's client certificate if any and
// adds "Authorization: Bearer" when the user has a token. Without a CA it
// uses the system's roots (a reconciler behind a proxy with a public
// certificate).
func (c *ClientConfig) HTTPClient() (*http.Client, error) {
	_, u, err := c.current()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.ForceAttemptHTTP2 = false // exec upgrades an HTTP/1.1 connection
	if tr.TLSClientConfig, err = c.TLSConfig(); err != nil {
		return nil, err
	}
	var rt http.RoundTripper = tr
	if u.Token != "" {
		rt = bearer{token: strings.TrimSpace(u.Token), next: tr}
	}
	return &http.Client{Transport: rt}, nil
}

// TLSConfig is the TLS side of HTTPClient: the cluster's CA, the user's
// client certificate; nil (the system's roots) without a CA.
func (c *ClientConfig) TLSConfig() (*tls.Config, error) {
	cl, u, err := c.current()
	if err != nil {
		return nil, err
	}
	kp := pki.KeyPair{CertPEM: u.ClientCertificateData, KeyPEM: u.ClientKeyData}
	if (len(kp.CertPEM) > 0) != (len(kp.KeyPEM) > 0) {
		return nil, errors.New("client config: client-certificate-data and client-key-data go together")
	}
	if len(cl.CertificateAuthorityData) == 0 {
		if len(kp.CertPEM) > 0 {
			return nil, errors.New("client config: a client certificate needs the cluster's certificate-authority-data")
		}
		return nil, nil
	}
	ca, err := pki.LoadCA(cl.CertificateAuthorityData, nil)
	if err != nil {
		return nil, fmt.Errorf("client config: certificate-authority-data: %w", err)
	}
	conf, err := ca.ClientTLS(kp, policy.GroupReconcilers)
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	return conf, nil
}

// bearer adds the token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// NewClientFromConfig is NewClient with c's server (server overrides it
// when not empty) and credentials.
func NewClientFromConfig(c *ClientConfig, server string) (*Client, error) {
	hc, err := c.HTTPClient()
	if err != nil {
		return nil, err
	}
	if server == "" {
		server = c.Server()
	}
	return NewClient(server, hc)
}
