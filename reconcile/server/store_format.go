package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
	"github.com/stevedore-dev/stevedore/internal/version"
)

// The store's formats. A format is what a reconciler must understand to
// read the store's snapshots and apply its log; the store records the
// one it is in (fsmState.Format, the snapshot header, the data dir's
// marker file), and moves to a newer one only when every raft server
// reads it (the leader's formatLoop): a reconciler that cannot read a
// format refuses it instead of guessing.
const (
	// storeFormatJSON is what v0.15.0 and earlier write: snapshots are
	// one JSON document, and nothing records a format.
	storeFormatJSON = 1
	// storeFormatGzip compresses snapshots (gzip, behind a one-line
	// header naming the format): the inventory's JSON is repetitive (a
	// pod record repeats its template's spec), and a snapshot is
	// written every SnapshotThreshold entries and sent whole to a
	// follower that lags behind (docs/scale.md: 78 MiB of raft data
	// for 60k pods).
	storeFormatGzip = 2
	// maxStoreFormat is the newest format this binary reads and writes.
	maxStoreFormat = storeFormatGzip

	// opFormat (Format, Release) moves the store to a newer format. A
	// reconciler that does not read the format refuses the entry and
	// stops applying; one from before formats (v0.15.0) fails to apply
	// it as an unknown operation and so never leads from a store it
	// cannot read.
	opFormat = "format"

	// tagStoreFormat is the newest store format a reconciler reads (its
	// serf tag); a reconciler without it reads format 1 only.
	tagStoreFormat = "sfmt"

	// fileStoreFormat, in the data dir, records the store's format (and
	// the release that moved it there) as soon as it changes, so that a
	// reconciler too old for it refuses at start, before raft.
	fileStoreFormat = "store-format"

	// snapshotMagic starts the header line of a snapshot of format 2 or
	// newer: "stevedore-store format=2 release=v0.16.0\n". A format-1
	// snapshot starts with "{".
	snapshotMagic = "stevedore-store "
)

// formatReleases names the releases that write each format, for
// messages about a store of another format.
var formatReleases = map[int]string{
	storeFormatJSON: "v0.15.0 and earlier",
	storeFormatGzip: "v0.16.0",
}

// formatError is a store of a format this reconciler does not read. Its
// message names the data dir, the format, the release that wrote it,
// what this binary reads, and what to do.
type formatError struct {
	dataDir string
	format  int
	// release wrote the format, "" if unknown.
	release string
	max     int
}

func (e *formatError) Error() string {
	by := e.release
	if by == "" {
		by = formatReleases[e.format]
	}
	run := "a release that reads store format " + strconv.Itoa(e.format)
	if by == "" {
		by = "a release newer than " + version.Release
	} else {
		run = by + " or newer"
	}
	where := "the raft store"
	if e.dataDir != "" {
		where = "the raft store in " + e.dataDir
	}
	return fmt.Sprintf("%s is of format %d (written by %s), but this reconciler (%s) reads store formats %d to %d: run %s, or restore the backup taken before the upgrade",
		where, e.format, by, version.Release, storeFormatJSON, e.max, run)
}

// formatMarker is the content of fileStoreFormat.
type formatMarker struct {
	Format  int    `json:"format"`
	Release string `json:"release,omitempty"`
}

// checkFormatMarker refuses a data dir whose marker names a format newer
// than max.
func checkFormatMarker(dataDir string, max int) error {
	path := filepath.Join(dataDir, fileStoreFormat)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", path, err)
	}
	var m formatMarker
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("failed to decode %s: %w", path, err)
	}
	if m.Format > max {
		return &formatError{dataDir: dataDir, format: m.Format, release: m.Release, max: max}
	}
	return nil
}

// saveFormatMarker records the store's format in the data dir
// (atomically, fsynced).
func saveFormatMarker(dataDir string, m formatMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("failed to encode store format: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dataDir, fileStoreFormat), append(b, '\n'), 0o600)
}

// format returns the store's format and the release that moved it there.
func (s *store) format() (int, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return max(s.st.Format, storeFormatJSON), s.st.FormatRelease
}

// reads is the newest format this store reads.
func (s *store) reads() int {
	if s.maxFormat == 0 {
		return maxStoreFormat
	}
	return s.maxFormat
}

// refuseLocked marks the store broken by a format it does not read: it
// applies nothing more, and its reconciler does not lead.
func (s *store) refuseLocked(format int, release string) error {
	err := &formatError{dataDir: s.dataDir, format: format, release: release, max: s.reads()}
	s.refused = err
	if s.broken == nil {
		s.broken = err
	}
	return err
}

// applyFormatLocked applies an opFormat entry.
func (s *store) applyFormatLocked(c *command, index uint64) error {
	if c.Format > s.reads() {
		return s.refuseLocked(c.Format, c.Release)
	}
	if c.Format <= max(s.st.Format, storeFormatJSON) {
		return nil // formats only move forward
	}
	from := max(s.st.Format, storeFormatJSON)
	s.st.Format, s.st.FormatRelease = c.Format, c.Release
	if s.log != nil {
		s.log.Info("store format upgraded", "from", from, "to", c.Format, "release", c.Release, "index", index)
	}
	return nil
}

// writeSnapshot writes st in format: a format-1 snapshot as v0.15.0 wrote
// it, a newer one behind its header, gzipped.
func writeSnapshot(w io.Writer, st *fsmState, format int) error {
	if format < storeFormatGzip {
		return json.NewEncoder(w).Encode(st)
	}
	release := st.FormatRelease
	if release == "" {
		release = version.Release
	}
	if _, err := fmt.Fprintf(w, "%sformat=%d release=%s\n", snapshotMagic, format, release); err != nil {
		return err
	}
	// BestSpeed: the JSON's repetition is what compresses, and a leader
	// snapshots while it serves.
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		return err
	}
	return zw.Close()
}

// readSnapshot decodes a snapshot of any format up to maxFormat; a newer
// one is a *formatError (with dataDir "": the caller names it).
func readSnapshot(r io.Reader, maxFormat int) (fsmState, error) {
	var st fsmState
	br := bufio.NewReader(r)
	head, _ := br.Peek(len(snapshotMagic))
	if !bytes.Equal(head, []byte(snapshotMagic)) {
		// Format 1: one JSON document.
		if err := json.NewDecoder(br).Decode(&st); err != nil {
			return st, fmt.Errorf("failed to decode snapshot: %w", err)
		}
		// This binary writes none with a format inside, but a state is
		// what it says it is.
		if st.Format > maxFormat {
			return st, &formatError{format: st.Format, release: st.FormatRelease, max: maxFormat}
		}
		st.Format = max(st.Format, storeFormatJSON)
		return st, nil
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return st, fmt.Errorf("failed to read snapshot header: %w", err)
	}
	format, release := 0, ""
	for _, f := range strings.Fields(strings.TrimPrefix(line, snapshotMagic)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "format":
			format, _ = strconv.Atoi(v)
		case "release":
			release = v
		}
	}
	if format < storeFormatGzip {
		return st, fmt.Errorf("failed to read snapshot header %q: no format", strings.TrimSpace(line))
	}
	if format > maxFormat {
		return st, &formatError{format: format, release: release, max: maxFormat}
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return st, fmt.Errorf("failed to decompress snapshot: %w", err)
	}
	if err := json.NewDecoder(zr).Decode(&st); err != nil {
		return st, fmt.Errorf("failed to decode snapshot: %w", err)
	}
	st.Format = format
	if st.FormatRelease == "" {
		st.FormatRelease = release
	}
	return st, nil
}

// readsFormat is the newest store format a reconciler's serf tags say it
// reads: 1 without the tag (a reconciler from before formats).
func readsFormat(tags map[string]string) int {
	n, err := strconv.Atoi(tags[tagStoreFormat])
	if err != nil || n < storeFormatJSON {
		return storeFormatJSON
	}
	return n
}

// formatGate returns the newest format every server of the raft
// configuration reads (reads reports one server's, ok false when it is
// not a live member: it counts as format 1), and the servers that hold
// the cluster below want.
func formatGate(servers []raft.Server, want int, reads func(id string) (int, bool)) (int, []string) {
	gate := want
	var behind []string
	for _, srv := range servers {
		n, ok := reads(string(srv.ID))
		if !ok {
			n = storeFormatJSON
		}
		if n < want {
			behind = append(behind, fmt.Sprintf("%s reads %d", srv.ID, n))
		}
		gate = min(gate, n)
	}
	slices.Sort(behind)
	return gate, behind
}
