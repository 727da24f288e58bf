package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// repeatReader is an endless stream of one byte: a body as large as a test
// wants without holding it in memory.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestPodSetTooLarge: a pod set past maxPodSetBytes is answered 413 with a
// message saying so, nothing is applied, and the agent answers on.
func TestPodSetTooLarge(t *testing.T) {
	a := startAgent(t, testConfig(t, "n1"), newFakeRuntime())
	body := io.MultiReader(strings.NewReader(`{"term":1,"generation":1,"node":"`),
		io.LimitReader(repeatReader('a'), maxPodSetBytes+1), strings.NewReader(`"}`))
	req, _ := http.NewRequest(http.MethodPut, a.APIURL()+api.PathPodSet, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(e.Error, "pod set larger than 67108864 bytes") {
		t.Fatalf("answer %d %+v, want 413 naming the limit", resp.StatusCode, e)
	}
	l, err := api.NewClient(a.APIURL(), nil).Pods(ctxT(t))
	if err != nil || l.Generation != 0 || len(l.Pods) != 0 {
		t.Fatalf("Pods after the refusal = %+v, %v", l, err)
	}
}
