package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// The seed's four patterns (examples-repo/patterns, docs/patterns.md) on
// TestHA's cluster, committed as the examples repository has them: the
// worker pool's indexes each recorded once in the redis primary, a write
// to the primary read from the replicas, keys routed to the shards the
// rule names, and exactly one leader of the master-elected service, also
// after its pods are replaced and after its node is cut off. The
// master-elected step goes last: cutting a node moves the others' pods.
//
// TestHA runs them as its step {"Patterns", h.testPatterns}.

const patNS = "patterns"

// testPatterns commits examples-repo/patterns and runs the four checks.
func (h *haCluster) testPatterns(t *testing.T) {
	files := map[string][]byte{}
	paths, err := filepath.Glob("../../examples-repo/patterns/*.yaml")
	if err != nil || len(paths) < 5 {
		t.Fatalf("examples-repo/patterns: %v %v", paths, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := "patterns/" + filepath.Base(p)
		files[name] = h.c.RewriteImages(name, b)
	}
	if _, err := h.c.Repo.Commit(h.ctx, "patterns: the seed's four patterns", files); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Database", h.testPatternDatabase},
		{"WorkerPool", h.testPatternWorkerPool},
		{"Sharded", h.testPatternSharded},
		{"MasterElected", h.testPatternMasterElected},
	} {
		if !t.Run(s.name, s.fn) {
			return
		}
	}
}

// patReady waits for want Ready pods of app with IPs (avoiding nodes in
// avoid) and returns them by name.
func (h *haCluster) patReady(t *testing.T, app string, want int, timeout time.Duration, avoid ...string) map[string]rapi.Pod {
	t.Helper()
	out := map[string]rapi.Pod{}
	waitPodsWhy(t, h.ctx, h.c, fmt.Sprintf("%d Ready pods of %s", want, app), patNS, timeout, func(ps []rapi.Pod) string {
		clear(out)
		for _, p := range ps {
			if p.Labels["app"] != app {
				continue
			}
			if !podIsReady(p) || p.PodIP == "" {
				return fmt.Sprintf("%s is %s %s %s", p.Name, p.Phase, p.Reason, p.Message)
			}
			for _, n := range avoid {
				if p.Node == n {
					return p.Name + " still on " + n
				}
			}
			out[p.Name] = p
		}
		if len(out) != want {
			return fmt.Sprintf("%d Ready pods of %s", len(out), app)
		}
		return ""
	})
	return out
}

// --- database ---------------------------------------------------------

// redisConn is a minimal RESP client: enough for SET, GET, HGETALL and INFO.
type redisConn struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialRedis(t *testing.T, ip string) *redisConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "6379"), 5*time.Second)
	if err != nil {
		t.Fatalf("redis at %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &redisConn{c: c, rd: bufio.NewReader(c)}
}

// do sends a command and returns its reply: a string, an int64, a []any,
// nil, or an error for a RESP error reply.
func (r *redisConn) do(args ...string) (any, error) {
	_ = r.c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(r.c, b.String()); err != nil {
		return nil, err
	}
	return r.read()
}

func (r *redisConn) read() (any, error) {
	line, err := r.rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("redis: %s", line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.rd, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		out := make([]any, 0, max(n, 0))
		for range n {
			v, err := r.read()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown reply %q", line)
}

// redisPrimaryIP is redis-0's IP once the three redis pods are Ready.
func (h *haCluster) redisPods(t *testing.T) map[string]rapi.Pod {
	t.Helper()
	pods := h.patReady(t, "redis", 3, 5*time.Minute)
	for i := range 3 {
		if _, ok := pods[fmt.Sprintf("redis-%d", i)]; !ok {
			t.Fatalf("no pod redis-%d among %v", i, pods)
		}
	}
	return pods
}

// testPatternDatabase: redis-0 is the primary, redis-1 and redis-2
// replicate it (read-only), and a write to the primary reaches both.
func (h *haCluster) testPatternDatabase(t *testing.T) {
	pods := h.redisPods(t)
	primary := dialRedis(t, pods["redis-0"].PodIP)
	if v, err := primary.do("INFO", "replication"); err != nil || !strings.Contains(fmt.Sprint(v), "role:master") {
		t.Fatalf("redis-0 INFO replication = %v, %v", v, err)
	}
	stamp := time.Now().Format(time.RFC3339Nano)
	if v, err := primary.do("SET", "patterns:stamp", stamp); err != nil || v != "OK" {
		t.Fatalf("SET on the primary = %v, %v", v, err)
	}
	for _, name := range []string{"redis-1", "redis-2"} {
		r := dialRedis(t, pods[name].PodIP)
		deadline := time.Now().Add(time.Minute)
		for {
			v, err := r.do("GET", "patterns:stamp")
			if err == nil && v == stamp {
				break
			}
			if time.Now().After(deadline) {
				info, _ := r.do("INFO", "replication")
				t.Fatalf("%s never got the primary's write (last %v, %v):\n%v", name, v, err, info)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if v, err := r.do("INFO", "replication"); err != nil || !strings.Contains(fmt.Sprint(v), "role:slave") {
			t.Errorf("%s INFO replication = %v, %v", name, v, err)
		}
		if _, err := r.do("SET", "x", "1"); err == nil || !strings.Contains(err.Error(), "READONLY") {
			t.Errorf("write to %s = %v, want READONLY", name, err)
		}
	}
}

// --- worker pool ------------------------------------------------------

// testPatternWorkerPool: the Indexed Job's 6 indexes each ran exactly
// once, with the right result, and the Job says it completed.
func (h *haCluster) testPatternWorkerPool(t *testing.T) {
	pods := h.redisPods(t)
	r := dialRedis(t, pods["redis-0"].PodIP)
	hash := func(key string) map[string]string {
		v, err := r.do("HGETALL", key)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		l, _ := v.([]any)
		for i := 0; i+1 < len(l); i += 2 {
			m[fmt.Sprint(l[i])] = fmt.Sprint(l[i+1])
		}
		return m
	}
	deadline := time.Now().Add(5 * time.Minute)
	for len(hash("pool:runs")) < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("the worker pool recorded %v", hash("pool:runs"))
		}
		time.Sleep(time.Second)
	}
	waitCtl(t, h.ctx, h.c, 2*time.Minute, func(out string) bool {
		return strings.Contains(out, "pool") && strings.Contains(out, "6/6")
	}, "get", "jobs", "-n", patNS)
	// Nothing runs an index again once the Job completed.
	time.Sleep(5 * time.Second)
	runs, results := hash("pool:runs"), hash("pool:results")
	for i := range 6 {
		k := strconv.Itoa(i)
		if runs[k] != "1" {
			t.Errorf("index %d ran %q times, want exactly once (runs %v)", i, runs[k], runs)
		}
		// The sum of i*1000 … i*1000+999.
		if want := strconv.Itoa(i*1000*1000 + 999*1000/2); results[k] != want {
			t.Errorf("index %d result %q, want %s", i, results[k], want)
		}
	}
	if len(runs) != 6 {
		t.Errorf("runs recorded for indexes %v, want 0…5", runs)
	}
}

// --- sharded ----------------------------------------------------------

// shardOf is the router's rule (examples-repo/images/shard).
func shardOf(key string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// testPatternSharded: each shard knows its number from its ordinal; the
// router puts each key on the shard the rule names, which has it, and the
// other shards refuse it.
func (h *haCluster) testPatternSharded(t *testing.T) {
	shards := h.patReady(t, "shard", 3, 4*time.Minute)
	router := h.patReady(t, "shard-router", 1, 2*time.Minute)
	var rt rapi.Pod
	for _, p := range router {
		rt = p
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for n := range 3 {
		p, ok := shards[fmt.Sprintf("shard-%d", n)]
		if !ok {
			t.Fatalf("no pod shard-%d among %v", n, shards)
		}
		var who struct{ Shard, Shards int }
		body := waitBody(t, "http://"+p.PodIP+":8080/whoami", `"shard"`, 30*time.Second)
		if err := json.Unmarshal([]byte(body), &who); err != nil || who.Shard != n || who.Shards != 3 {
			t.Fatalf("shard-%d /whoami = %s", n, body)
		}
	}
	// The router resolves shard-N.shard only once the headless Service
	// lists them: wait for its first success.
	seen := map[int]bool{}
	for i := range 24 {
		key := fmt.Sprintf("key-%d", i)
		want := shardOf(key, 3)
		var resp *http.Response
		deadline := time.Now().Add(time.Minute)
		for {
			req, _ := http.NewRequest(http.MethodPut, "http://"+rt.PodIP+":8080/kv/"+key, strings.NewReader("v"+key))
			var err error
			resp, err = hc.Do(req)
			if err == nil && resp.StatusCode == http.StatusNoContent {
				resp.Body.Close()
				break
			}
			msg := fmt.Sprint(err)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				msg = resp.Status + " " + string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("PUT %s through the router: %s", key, msg)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if got := resp.Header.Get("X-Shard"); got != strconv.Itoa(want) {
			t.Errorf("router put %s on shard %s, the rule says %d", key, got, want)
		}
		seen[want] = true
		for n := range 3 {
			p := shards[fmt.Sprintf("shard-%d", n)]
			r, err := hc.Get("http://" + p.PodIP + ":8080/kv/" + key)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			switch {
			case n == want && (r.StatusCode != http.StatusOK || string(b) != "v"+key):
				t.Errorf("shard-%d GET %s = %s %q, want its value", n, key, r.Status, b)
			case n != want && r.StatusCode != http.StatusMisdirectedRequest:
				t.Errorf("shard-%d GET %s = %s, want 421 (the key is shard %d's)", n, key, r.Status, want)
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("24 keys landed on shards %v only", seen)
	}
}

// --- master-elected ---------------------------------------------------

// leaderAnswer is elect's /leader.
type leaderAnswer struct {
	Identity string `json:"identity"`
	Leader   string `json:"leader"`
	IsLeader bool   `json:"isLeader"`
}

// askLeader asks one elect pod (through hc) who leads.
func askLeader(hc *http.Client, p rapi.Pod) (leaderAnswer, error) {
	var a leaderAnswer
	resp, err := hc.Get("http://" + p.PodIP + ":8080/leader")
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&a)
	return a, err
}

// leaders asks every pod and returns those claiming to lead; a pod that
// does not answer is left out.
func leaders(hc *http.Client, pods map[string]rapi.Pod) []string {
	var out []string
	for name, p := range pods {
		if a, err := askLeader(hc, p); err == nil && a.IsLeader {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// waitOneLeader waits until exactly one of pods claims to lead, other than
// the incarnation not ("<name>_<uid>": a pod re-created under the old
// leader's name is another candidate), and the
// lease names it, checking meanwhile that two never claim at once.
func (h *haCluster) waitOneLeader(t *testing.T, pods map[string]rapi.Pod, timeout time.Duration, not string) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		l := leaders(hc, pods)
		if len(l) > 1 {
			t.Fatalf("two leaders at once: %v", l)
		}
		if len(l) == 1 && agentapi.PodHolderIdentity(l[0], pods[l[0]].UID) != not {
			ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
			lease, err := h.c.Client.Lease(ctx, patNS, "elect")
			cancel()
			// The holder is the pod's incarnation, "<name>_<uid>".
			if err == nil && lease.Spec.HolderIdentity == agentapi.PodHolderIdentity(l[0], pods[l[0]].UID) && lease.Status.Held {
				return l[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single leader among %d pods within %s (claiming: %v, not %q)", len(pods), timeout, l, not)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// testPatternMasterElected: one leader among three; a new one when the
// pods are replaced (the leader's pod deleted by a rollout) and when the
// leader's node is cut off, never two at once; the cut-off leader stops
// claiming before another takes over.
func (h *haCluster) testPatternMasterElected(t *testing.T) {
	pods := h.patReady(t, "elect", 3, 3*time.Minute)
	first := h.waitOneLeader(t, pods, time.Minute, "")
	firstUID := pods[first].UID
	t.Logf("leader %s on %s", first, pods[first].Node)
	// It stays the only leader.
	hc := &http.Client{Timeout: 2 * time.Second}
	for range 10 {
		if l := leaders(hc, pods); len(l) != 1 || l[0] != first {
			t.Fatalf("leaders %v, want only %s", l, first)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// A rollout deletes every pod, the leader's included: its successor
	// takes over (the leader releases the lease on SIGTERM).
	b, err := os.ReadFile("../../examples-repo/patterns/master-elected.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), `value: "10"`, "value: \"10\"\n            - name: REVISION\n              value: \"2\"", 1)
	if changed == string(b) {
		t.Fatal("master-elected.yaml changed: the test's edit no longer applies")
	}
	name := "patterns/master-elected.yaml"
	if _, err := h.c.Repo.Commit(h.ctx, "patterns: roll elect", map[string][]byte{name: h.c.RewriteImages(name, []byte(changed))}); err != nil {
		t.Fatal(err)
	}
	waitPodsWhy(t, h.ctx, h.c, "the old elect pods gone", patNS, 3*time.Minute, func(ps []rapi.Pod) string {
		for _, p := range ps {
			if _, old := pods[p.Name]; old {
				return p.Name + " still there"
			}
		}
		return ""
	})
	pods = h.patReady(t, "elect", 3, 3*time.Minute)
	second := h.waitOneLeader(t, pods, time.Minute, agentapi.PodHolderIdentity(first, firstUID))
	t.Logf("after the rollout: leader %s on %s", second, pods[second].Node)

	// The leader's node is cut off: its elect stops claiming (it cannot
	// renew), the lease lapses and a replica elsewhere takes it.
	node := pods[second].Node
	victim := agentIndex(t, h.c, node)
	inside := devenv.InsideHTTPClient(h.c.Agents[victim].Netns)
	inside.Timeout = 2 * time.Second
	if err := h.c.Cut(node); err != nil {
		t.Fatal(err)
	}
	healed := false
	defer func() {
		if !healed {
			_ = h.c.Heal(node)
		}
	}()
	// The replicas elsewhere: those that ran there, and the cut node's
	// re-created there once it is declared failed.
	others := h.patReady(t, "elect", 3, 3*time.Minute, node)
	third := h.waitOneLeader(t, others, time.Minute, agentapi.PodHolderIdentity(second, pods[second].UID))
	if a, err := askLeader(inside, pods[second]); err != nil || a.IsLeader {
		t.Errorf("the cut-off leader %s, asked on its node, = %+v, %v: it should have stopped leading before %s took over", second, a, err, third)
	}
	t.Logf("with %s cut off: leader %s", node, third)
	if err := h.c.Heal(node); err != nil {
		t.Fatal(err)
	}
	healed = true
	if err := h.c.WaitNodes(h.ctx, len(h.c.Agents), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	pods = h.patReady(t, "elect", 3, 3*time.Minute)
	h.waitOneLeader(t, pods, time.Minute, "")
}
