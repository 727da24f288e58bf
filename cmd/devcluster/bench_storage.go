package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/volume"
	"github.com/stevedore-dev/stevedore/agent/volume/volumetest"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

const secStorage = "storage"

// storagePods is how many pods each pod-start run commits at once.
const storagePods = 10

// storageNS is the benchmark's namespace: it allows plaintext Secrets, so
// that the pod-start figures do not include SOPS (measured on its own).
const storageNS = `apiVersion: v1
kind: Namespace
metadata:
  name: stb
  annotations: {stevedore.dev/allow-plaintext-secrets: "true"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: stb}
data: {a.conf: "a=1", b.conf: "b=2"}
---
apiVersion: v1
kind: Secret
metadata: {name: sec, namespace: stb}
stringData: {password: bench}
`

// storagePod is pod %[1]d, with (%[3]s) or without volumes; %[2]s is the
// image.
const storagePod = `---
apiVersion: v1
kind: Pod
metadata: {name: p%[1]d, namespace: stb}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: %[2]s
%[3]s`

// storageVolumes is a pod's claim and three ConfigMap/Secret volumes;
// %[1]d is the pod's number.
const storageVolumes = `      volumeMounts:
        - {name: data, mountPath: /data}
        - {name: cfg, mountPath: /etc/cfg}
        - {name: sec, mountPath: /etc/sec}
        - {name: all, mountPath: /etc/all}
  volumes:
    - {name: data, persistentVolumeClaim: {claimName: c%[1]d}}
    - {name: cfg, configMap: {name: cfg}}
    - {name: sec, secret: {secretName: sec}}
    - name: all
      projected:
        sources: [{configMap: {name: cfg}}, {secret: {name: sec}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c%[1]d, namespace: stb}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
`

func benchStorage(ctx context.Context, o options, runs int, out io.Writer) (string, error) {
	st := newStamp()
	sopsCost, err := measureSOPS(o.examples, out)
	if err != nil {
		return "", err
	}
	tput, err := measureDriverThroughput(ctx, out)
	if err != nil {
		return "", err
	}
	o.reconcilers = 1
	var plain, withVols []time.Duration
	var ferr error
	err = withBenchCluster(ctx, &o, fmt.Sprintf("bst%d", os.Getpid()%1000), func(bc *benchCluster) {
		plain, withVols, ferr = measurePodStart(ctx, bc, runs, out)
	})
	if err != nil {
		return "", err
	}
	if ferr != nil {
		return "", ferr
	}
	return renderStorage(plain, withVols, tput, sopsCost, o.agents, st), nil
}

// measurePodStart alternates runs of storagePods pods without volumes and
// with a claim and three ConfigMap/Secret volumes each, from the commit to
// every pod Running, removing them between runs.
func measurePodStart(ctx context.Context, bc *benchCluster, runs int, out io.Writer) (plain, withVols []time.Duration, err error) {
	c := bc.c
	run := func(i int, vols bool) (time.Duration, error) {
		var b strings.Builder
		b.WriteString(storageNS)
		for p := range storagePods {
			v := ""
			if vols {
				v = fmt.Sprintf(storageVolumes, p)
			}
			fmt.Fprintf(&b, storagePod, p, bc.image, v)
		}
		start := time.Now()
		if _, err := c.Repo.Commit(ctx, fmt.Sprintf("storage bench %d", i), map[string][]byte{"stb.yaml": []byte(b.String())}); err != nil {
			return 0, err
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if _, err := c.Client.WaitFor(wctx, "stb", 10*time.Millisecond, func(ps []rapi.Pod) bool {
			ps = rapi.CurrentPods(ps)
			n := 0
			for _, p := range ps {
				if p.Phase == api.PodRunning {
					n++
				}
			}
			return n == storagePods && len(ps) == storagePods
		}); err != nil {
			return 0, fmt.Errorf("run %d: %w", i, err)
		}
		d := time.Since(start)
		if _, err := c.Repo.Commit(ctx, "storage bench: clear", map[string][]byte{"stb.yaml": []byte(storageNS)}); err != nil {
			return 0, err
		}
		gctx, gcancel := context.WithTimeout(ctx, 2*time.Minute)
		defer gcancel()
		if _, err := c.Client.WaitFor(gctx, "stb", 50*time.Millisecond, func(ps []rapi.Pod) bool { return len(ps) == 0 }); err != nil {
			return 0, err
		}
		if err := waitNoContainers(gctx, c); err != nil {
			return 0, err
		}
		// The released claims' volumes are deleted by their agents.
		if err := waitFor(gctx, func() bool {
			vs, err := c.Client.Volumes(gctx)
			return err == nil && len(vs) == 0
		}); err != nil {
			return 0, fmt.Errorf("volumes of run %d not deleted: %w", i, err)
		}
		return d, nil
	}
	// Warm-up: the image on every node, the volume paths made.
	for i, vols := range []bool{false, true} {
		if _, err := run(i, vols); err != nil {
			return nil, nil, err
		}
	}
	for i := range runs {
		d, err := run(i, false)
		if err != nil {
			return nil, nil, err
		}
		plain = append(plain, d)
		d2, err := run(i, true)
		if err != nil {
			return nil, nil, err
		}
		withVols = append(withVols, d2)
		fmt.Fprintf(out, "storage: run %d: %d pods without volumes %s, with a claim and 3 config volumes each %s\n",
			i+1, storagePods, d.Round(time.Millisecond), d2.Round(time.Millisecond))
	}
	return plain, withVols, nil
}

// waitFor polls ok every 100 ms until it holds or ctx ends.
func waitFor(ctx context.Context, ok func() bool) error {
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// throughput is one driver's sequential write rate beside the raw file
// system under it.
type throughput struct {
	driver     string
	under      string
	mbps, base float64
}

// throughputSize is what each measurement writes.
const throughputSize = 256 << 20

// measureDriverThroughput writes throughputSize through each driver's
// published volume and straight to the file system under it.
func measureDriverThroughput(ctx context.Context, out io.Writer) ([]throughput, error) {
	dir, err := os.MkdirTemp("", "stevedore-bench-volumes-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	raw, err := volumetest.WriteThroughput(dir, throughputSize)
	if err != nil {
		return nil, err
	}
	st, err := devenv.StartStorageHost(ctx, filepath.Join(dir, "storage-host"), filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	defer st.Stop()
	// sshfs writes into the storage host's directory, on the same file
	// system here: the network driver's cost is SSH and FUSE.
	sshfs := &volume.SSHFS{IdentityFile: st.IdentityFile, KnownHostsFile: st.KnownHostsFile, BasePaths: []string{st.Root}}
	cases := []struct {
		name   string
		d      volume.Driver
		fsType string
		params map[string]string
		size   int64
	}{
		{"stevedore.dev/local-dir", volume.NewLocalDir(filepath.Join(dir, "ld")), "", nil, 0},
		{"stevedore.dev/local-block (ext4)", volume.NewLocalBlock(filepath.Join(dir, "lb")), volume.FSExt4, nil, 1 << 30},
		{"stevedore.dev/local-block (xfs)", volume.NewLocalBlock(filepath.Join(dir, "lbx")), volume.FSXFS, nil, 1 << 30},
		{"stevedore.dev/sshfs (loopback)", sshfs, "", map[string]string{"host": st.Host, "port": fmt.Sprint(st.Port), "user": st.User, "path": st.Root}, 0},
	}
	var res []throughput
	for i, tc := range cases {
		v := volume.Volume{Name: fmt.Sprintf("bench-%d", i), Handle: fmt.Sprintf("bench-%d", i), CapacityBytes: tc.size, FSType: tc.fsType, Parameters: tc.params}
		work := filepath.Join(dir, fmt.Sprintf("w%d", i))
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, err
		}
		mbps, err := volumetest.DriverThroughput(ctx, tc.d, v, work, throughputSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tc.name, err)
		}
		fmt.Fprintf(out, "storage: %s %.0f MB/s (raw %.0f MB/s)\n", tc.name, mbps, raw)
		res = append(res, throughput{driver: tc.name, under: "the same ext4/xfs directory", mbps: mbps, base: raw})
	}
	return res, nil
}

// sopsCost is the cost of decrypting one Secret.
type sopsCost struct {
	perSecret time.Duration
	n         int
}

// measureSOPS times decrypting the examples' SOPS-encrypted Secret with
// the development age key.
func measureSOPS(examples string, out io.Writer) (sopsCost, error) {
	doc, err := os.ReadFile(filepath.Join(examples, "apps", "kvstore-credentials.sops.yaml"))
	if err != nil {
		return sopsCost{}, err
	}
	keys, err := sops.ParseKeys([]sops.NamedKey{{Name: "dev-only.agekey", Data: devenv.DevAgeKey}}, nil)
	if err != nil {
		return sopsCost{}, err
	}
	if _, err := keys.DecryptDocument(doc); err != nil {
		return sopsCost{}, err
	}
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := keys.DecryptDocument(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	c := sopsCost{perSecret: time.Duration(r.NsPerOp()), n: r.N}
	fmt.Fprintf(out, "storage: SOPS decryption %s per Secret (%d runs)\n", c.perSecret, c.n)
	return c, nil
}

func renderStorage(plain, withVols []time.Duration, tput []throughput, sc sopsCost, agents int, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secStorage))
	fmt.Fprintln(&b, "## "+sectionTitles[secStorage])
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "Pod start: %d bare Pods committed at once on 1 reconciler and %d agents, from the commit to all\n", storagePods, agents)
	fmt.Fprintln(&b, "Running; without volumes, then each with its own claim (10Mi, the built-in local-dir class,")
	fmt.Fprintln(&b, "provisioned where the pod is placed) and three ConfigMap/Secret volumes (a configMap, a secret on")
	fmt.Fprintln(&b, "tmpfs, a projected one of both). The pods are removed, and their volumes deleted, between runs.")
	fmt.Fprintln(&b)
	fmt.Fprint(&b, durationTableHeader)
	row := func(what string, ds []time.Duration) { durationRow(&b, what, ds) }
	row(fmt.Sprintf("%d pods without volumes", storagePods), plain)
	row(fmt.Sprintf("%d pods with a claim and 3 config volumes each", storagePods), withVols)
	ratio := float64(percentile(withVols, 50)) / float64(percentile(plain, 50))
	fmt.Fprintf(&b, "| ratio of p50s (target ≤ 1.3×) | | %.2f× | | | %s |\n", ratio, verdict(ratio <= 1.3))
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "Sequential write throughput: %d MiB in 1 MiB writes, then fsync, through each driver's published\n", throughputSize>>20)
	fmt.Fprintln(&b, "volume, beside the same write to the file system under it (the raw figure). sshfs reaches a storage")
	fmt.Fprintln(&b, "host's sshd on loopback: its cost is SSH and FUSE, not a network.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| driver | MB/s | raw file system, MB/s | ratio |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, t := range tput {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f× |\n", t.driver, t.mbps, t.base, t.mbps/t.base)
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "SOPS: decrypting one Secret (two values, one age recipient, MAC checked) costs %s (%d runs).\n",
		us(sc.perSecret), sc.n)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secStorage))
	return b.String()
}

// us formats a duration in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
