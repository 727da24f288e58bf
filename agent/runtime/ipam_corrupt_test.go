package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A truncated ipam.json stops the agent with a way out, and that way out
// (the file moved away) keeps the adopted pods' IPs reserved.
func TestCorruptIPAMSaysHowToRecover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.json")
	if err := os.WriteFile(path, []byte(`{"pods":{"aaaa":"10.244.1.`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadIPAM(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("loadIPAM of a truncated file: %v", err)
	}
	if err := os.Rename(path, path+".bad"); err != nil {
		t.Fatal(err)
	}
	a, err := loadIPAM(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.retain(map[string]string{"aaaa": "10.244.1.5", "bbbb": ""}); err != nil {
		t.Fatal(err)
	}
	if got := a.ids(); len(got) != 1 || got["aaaa"] != "10.244.1.5" {
		t.Errorf("after adoption: %v, want aaaa's recorded IP reserved", got)
	}
}
