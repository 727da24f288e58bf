package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/browser"
)

func TestCountBytes(t *testing.T) {
	got := countBytes([]browser.Request{
		{URL: "https://127.0.0.1:7070/ui/apps", Encoded: 900, Decoded: 700, Finished: true},
		{URL: "https://127.0.0.1:7070/ui/lib.js", Encoded: 5000, Decoded: 16000, Finished: true},
		{URL: "https://127.0.0.1:7070/v1/whoami", Encoded: 300, Decoded: 50, Finished: true},
		{URL: "https://127.0.0.1:7070/v1/applications?watch=1", Encoded: 400, Decoded: 900},
		{URL: "data:,", Encoded: 0, Decoded: 0, Finished: true},
	})
	want := []uiBytes{
		{what: "assets (/ui/…)", requests: 2, encoded: 5900, raw: 16700},
		{what: "API data (/v1/…)", requests: 2, encoded: 700, raw: 950, open: 1},
		{what: "total", requests: 4, encoded: 6600, raw: 17650, open: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRenderUI(t *testing.T) {
	ds := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	s := renderUI("| a | b |\n|---|---|\n| 1 | 2 |\n", ds(400, 500, 1500), ds(300, 350, 1400), countBytes(nil), newStamp())
	for _, want := range []string{beginOf(secUI), endOf(secUI), "## Web UI", "| push to the application page showing the commit | 3 | 500 ms | 1500 ms | p50 ≤ 1 s | met |",
		"| floor: push to `GET /v1/status` reporting it applied | 3 | 350 ms | 1400 ms |", "| 1 | 2 |", "| total | 0 | 0.0 KB | 0.0 KB | 0 |"} {
		if !strings.Contains(s, want) {
			t.Errorf("section lacks %q:\n%s", want, s)
		}
	}
}
