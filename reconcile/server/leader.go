package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Files of the raft state under DataDir.
const (
	dirRaft       = "raft"
	fileRaftDB    = "raft/raft.db" // log and stable store (bbolt)
	dirSnapshots  = "raft"         // FileSnapshotStore adds "snapshots/"
	snapshotsKept = 2
)

// elector owns the raft node: its stores, its transport, and the
// leader-scoped work that runs while this node leads.
type elector struct {
	cfg    RaftConfig
	name   string
	log    *slog.Logger
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	db     *raftboltdb.BoltStore
	notify chan bool
	// existing is true when the data dir held raft state at start (or once
	// this node bootstrapped or was added): such a node never bootstraps,
	// it rejoins the cluster it was part of.
	existing atomic.Bool
	// addr is the raft address other reconcilers dial (Addr with port 0
	// resolved).
	addr string

	stopOnce sync.Once
	stopErr  error
}

// openElector opens (or creates) the raft state in dataDir and starts the
// raft node. A corrupt log store or snapshot is an error naming the file.
func openElector(cfg RaftConfig, name, dataDir string, fsm raft.FSM, log *slog.Logger, tlsConf *tls.Config) (e *elector, err error) {
	if err := os.MkdirAll(filepath.Join(dataDir, dirRaft), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create raft dir: %w", err)
	}
	dbPath := filepath.Join(dataDir, fileRaftDB)
	// bbolt panics on some corrupt pages instead of returning an error: a
	// corrupt data dir must be an error naming the file, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("failed to open raft state %s (corrupt?): %v", dbPath, r)
		}
	}()
	db, err := raftboltdb.New(raftboltdb.Options{Path: dbPath, BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		return nil, fmt.Errorf("failed to open raft log %s: %w", dbPath, err)
	}
	closeDB := true
	defer func() {
		if closeDB {
			db.Close()
		}
	}()
	hlog := hclogAdapter(log.With("component", "raft"), cfg.LogLevel)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dataDir, dirSnapshots), snapshotsKept, hlog)
	if err != nil {
		return nil, fmt.Errorf("failed to open raft snapshots in %s: %w", filepath.Join(dataDir, dirSnapshots), err)
	}
	existing, err := raft.HasExistingState(db, db, snaps)
	if err != nil {
		return nil, fmt.Errorf("failed to read raft state %s: %w", dbPath, err)
	}
	advertise, err := net.ResolveTCPAddr("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve raft address %q: %w", cfg.Addr, err)
	}
	if advertise.IP == nil || advertise.IP.IsUnspecified() {
		return nil, fmt.Errorf("%w: raft address %q must name the IP other reconcilers reach", ErrInvalidConfig, cfg.Addr)
	}
	var adv net.Addr = advertise
	if advertise.Port == 0 {
		adv = nil // the transport advertises the port it bound
	}
	trans, err := newRaftTransport(cfg.Addr, adv, tlsConf, hlog)
	if err != nil {
		return nil, fmt.Errorf("failed to listen for raft on %s: %w", cfg.Addr, err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(name)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	notify := make(chan bool, 16)
	rc.NotifyCh = notify
	r, err := raft.NewRaft(rc, fsm, db, db, snaps, trans)
	if err != nil {
		trans.Close()
		return nil, fmt.Errorf("failed to start raft from %s (log %s): %w", filepath.Join(dataDir, dirRaft), dbPath, err)
	}
	closeDB = false
	e = &elector{cfg: cfg, name: name, log: log, raft: r, trans: trans, db: db, notify: notify, addr: string(trans.LocalAddr())}
	e.existing.Store(existing)
	return e, nil
}

// bootstrap makes this node the first of a new cluster of servers (itself
// included). Only a node with no raft state calls it; every server of an
// expected set calls it with the same list, which raft accepts.
func (e *elector) bootstrap(servers []raft.Server) error {
	f := e.raft.BootstrapCluster(raft.Configuration{Servers: servers})
	if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("failed to bootstrap raft: %w", err)
	}
	e.existing.Store(true)
	return nil
}

// run calls lead for every term this node leads, with a context that ends
// when leadership is lost (or ctx ends), and waits for lead to return
// before it acts on the next change: a deposed leader stops its work
// before this node could lead again. raft's own lease makes a leader that
// lost its quorum step down before the others elect a new one.
func (e *elector) run(ctx context.Context, lead func(termCtx context.Context, term uint64)) {
	var cur *termRun
	stop := func() {
		if cur != nil {
			cur.cancel()
			<-cur.done
			cur = nil
		}
	}
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-e.notify:
			// Drain to the latest transition.
			for more := true; more; {
				select {
				case leader = <-e.notify:
				default:
					more = false
				}
			}
			stop()
			if leader && e.raft.State() == raft.Leader {
				cur = e.startTerm(ctx, lead)
			}
		}
	}
}

// termRun is the leader-scoped work of one term.
type termRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *elector) startTerm(ctx context.Context, lead func(termCtx context.Context, term uint64)) *termRun {
	termCtx, cancel := context.WithCancel(ctx)
	t := &termRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		// Every entry of earlier terms must be applied before the leader
		// plans from the store; a barrier that fails (a slow disk, a lost
		// quorum) is retried while this node leads.
		for {
			err := e.raft.Barrier(e.cfg.ElectionTimeout * 5).Error()
			if err == nil {
				break
			}
			e.log.Warn("leadership barrier failed; retrying", "err", err)
			select {
			case <-termCtx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			if e.raft.State() != raft.Leader {
				return
			}
		}
		// The term is read after the barrier: the one whose entries this
		// node now holds, and still leads in.
		term := e.raft.CurrentTerm()
		if e.raft.State() != raft.Leader || termCtx.Err() != nil {
			return
		}
		lead(termCtx, term)
	}()
	return t
}

// voters counts the voting servers of the raft configuration.
func (e *elector) voters() int {
	f := e.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	n := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			n++
		}
	}
	return n
}

// apply proposes one entry and waits until it is committed and applied.
func (e *elector) apply(c *command, timeout time.Duration) error {
	_, err := e.applySize(c, timeout)
	return err
}

// applySize is apply that also returns the entry's size in bytes.
func (e *elector) applySize(c *command, timeout time.Duration) (int, error) {
	b, err := encodeCommand(c)
	if err != nil {
		return 0, err
	}
	return len(b), e.applyBytes(c.Op, b, timeout)
}

func (e *elector) applyBytes(op string, b []byte, timeout time.Duration) error {
	f := e.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		return fmt.Errorf("failed to commit %s entry: %w", op, err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// shutdown stops raft and releases its files; safe to call twice. The
// raft node stays readable (State, LeaderWithID) after it.
func (e *elector) shutdown() error {
	e.stopOnce.Do(func() {
		var errs []error
		if err := e.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop raft: %w", err))
		}
		e.trans.Close()
		if err := e.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("failed to close raft log: %w", err))
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// hclogAdapter sends raft's hclog output to slog, at level and above.
func hclogAdapter(log *slog.Logger, level string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:            "raft",
		Level:           hclog.LevelFromString(level),
		Output:          slogWriter{log},
		DisableTime:     true,
		IncludeLocation: false,
	})
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	lvl := slog.LevelInfo
	switch {
	case strings.Contains(msg, "[ERROR]"):
		lvl = slog.LevelError
	case strings.Contains(msg, "[WARN]"):
		lvl = slog.LevelWarn
	case strings.Contains(msg, "[DEBUG]"), strings.Contains(msg, "[TRACE]"):
		lvl = slog.LevelDebug
	}
	w.log.Log(context.Background(), lvl, msg)
	return len(p), nil
}
