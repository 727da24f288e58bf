package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestOrdinal(t *testing.T) {
	for host, want := range map[string]int{"shard-0": 0, "shard-12": 12, "my-shard-3": 3} {
		if got, err := ordinal(host); err != nil || got != want {
			t.Errorf("ordinal(%q) = %d, %v", host, got, err)
		}
	}
	for _, host := range []string{"shard", "shard-x", "shard-"} {
		if _, err := ordinal(host); err == nil {
			t.Errorf("ordinal(%q) accepted", host)
		}
	}
}

func do(t *testing.T, hc *http.Client, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestRouterAndShards runs three shards and the router, whose
// shard-N.shard:8080 names are dialled to the shards' test servers: every
// key lands on (and only on) the shard the rule names.
func TestRouterAndShards(t *testing.T) {
	addrs := map[string]string{}
	for n := range 3 {
		h, err := serveShard(3, "shard-"+strconv.Itoa(n), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		addrs["shard-"+strconv.Itoa(n)+".shard:8080"] = strings.TrimPrefix(srv.URL, "http://")
	}
	if _, err := serveShard(3, "shard-3", t.TempDir()); err == nil {
		t.Error("shard 3 of 3 started")
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		if a, ok := addrs[addr]; ok {
			addr = a
		}
		return d.DialContext(ctx, network, addr)
	}
	router := httptest.NewServer(route(3, "shard", &http.Client{Transport: &http.Transport{DialContext: dial}}))
	defer router.Close()
	hc := router.Client()
	counts := map[string]int{}
	for i := range 30 {
		key := "k" + strconv.Itoa(i)
		want := strconv.Itoa(shardOf(key, 3))
		if code, body, hdr := do(t, hc, http.MethodPut, router.URL+"/kv/"+key, "v"+key); code != http.StatusNoContent || hdr.Get("X-Shard") != want {
			t.Fatalf("PUT %s = %d %s shard %s, want shard %s", key, code, body, hdr.Get("X-Shard"), want)
		}
		if code, body, _ := do(t, hc, http.MethodGet, router.URL+"/kv/"+key, ""); code != http.StatusOK || body != "v"+key {
			t.Fatalf("GET %s = %d %q", key, code, body)
		}
		for n := range 3 {
			code, _, _ := do(t, hc, http.MethodGet, "http://"+addrs["shard-"+strconv.Itoa(n)+".shard:8080"]+"/kv/"+key, "")
			if strconv.Itoa(n) == want && code != http.StatusOK || strconv.Itoa(n) != want && code != http.StatusMisdirectedRequest {
				t.Errorf("shard %d GET %s = %d", n, key, code)
			}
		}
		counts[want]++
	}
	if len(counts) != 3 {
		t.Errorf("30 keys on shards %v", counts)
	}
	if code, _, _ := do(t, hc, http.MethodGet, router.URL+"/kv/..", ""); code != http.StatusBadRequest && code != http.StatusNotFound && code != http.StatusMovedPermanently {
		t.Errorf("GET /kv/.. = %d", code)
	}
}
