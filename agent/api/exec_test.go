package api

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExecFrames(t *testing.T) {
	var b bytes.Buffer
	fw := NewFrameWriter(&b)
	big := bytes.Repeat([]byte("x"), MaxExecFrame+10)
	if _, err := fw.Stream(StreamStdout).Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if n, err := fw.Stream(StreamStdin).Write(nil); n != 0 || err != nil {
		t.Fatalf("empty stream write: %d %v", n, err)
	}
	_ = fw.WriteFrame(StreamStdin, nil) // EOF on stdin, on purpose
	_ = fw.WriteJSON(StreamResize, TerminalSize{Width: 80, Height: 24})
	_ = fw.WriteFrame(StreamStderr, big)
	_ = fw.WriteJSON(StreamExit, ExecExit{Code: 3})
	type frame struct {
		S byte
		N int
		P string
	}
	var got []frame
	fr := NewFrameReader(&b)
	for {
		s, p, err := fr.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := frame{S: s, N: len(p)}
		if len(p) < 100 {
			f.P = string(p)
		}
		got = append(got, f)
	}
	want := []frame{
		{StreamStdout, 5, "hello"}, {StreamStdin, 0, ""}, {StreamResize, 24, `{"width":80,"height":24}`},
		{StreamStderr, MaxExecFrame, ""}, {StreamStderr, 10, "xxxxxxxxxx"}, {StreamExit, 10, `{"code":3}`},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("frames (-want +got):\n%s", d)
	}
	// A truncated frame and an oversized one are errors, not a clean end.
	if _, _, err := NewFrameReader(bytes.NewReader([]byte{1, 0, 0, 0, 9, 'a'})).ReadFrame(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("truncated frame: %v", err)
	}
	if _, _, err := NewFrameReader(bytes.NewReader([]byte{1, 0xff, 0, 0, 0})).ReadFrame(); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("oversized frame: %v", err)
	}
}

func TestExecOptionsQuery(t *testing.T) {
	o := ExecOptions{Namespace: "ns", Pod: "p", Container: "c", Command: []string{"sh", "-c", "echo a b"}, Stdin: true, TTY: true}
	got, err := ParseExecOptions(o.Query())
	if err != nil || !cmp.Equal(o, got) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if _, err := ParseExecOptions(url.Values{"pod": {"p"}}); err == nil {
		t.Error("no command: no error")
	}
}
