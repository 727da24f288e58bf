package logfile

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Flags are a daemon's --log-file, --log-max-size and --log-max-files.
type Flags struct {
	Path     string
	MaxSize  string
	MaxFiles int
}

// Register adds the flags to fs with the defaults (10Mi, 5).
func (fl *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&fl.Path, "log-file", "", "write the daemon's log to this file, rotated by --log-max-size and --log-max-files (default: standard error, unrotated)")
	fs.StringVar(&fl.MaxSize, "log-max-size", "10Mi", "size (a Kubernetes quantity) past which --log-file is rotated")
	fs.IntVar(&fl.MaxFiles, "log-max-files", DefaultMaxFiles, "how many files of --log-file are kept, the current one included")
}

// Config parses the flags into a Config (meaningful when Path is set).
func (fl *Flags) Config() (Config, error) {
	q, err := resource.ParseQuantity(fl.MaxSize)
	if err != nil {
		return Config{}, fmt.Errorf("failed to parse --log-max-size %q: %w", fl.MaxSize, err)
	}
	if q.Value() <= 0 || fl.MaxFiles <= 0 {
		return Config{}, fmt.Errorf("failed to parse the log flags: --log-max-size (%s) and --log-max-files (%d) must be positive", fl.MaxSize, fl.MaxFiles)
	}
	return Config{Path: fl.Path, MaxSize: q.Value(), MaxFiles: fl.MaxFiles}, nil
}

// Logger returns a text slog.Logger at level writing to the file the flags
// name, or to standard error without --log-file, and sets it as slog's
// default (so the standard library's log package follows it). The file
// stays open for the life of the process.
func (fl *Flags) Logger(level slog.Level) (*slog.Logger, error) {
	cfg, err := fl.Config()
	if err != nil {
		return nil, err
	}
	var w io.Writer = os.Stderr
	if fl.Path != "" {
		if w, err = Open(cfg); err != nil {
			return nil, fmt.Errorf("failed to open --log-file: %w", err)
		}
	}
	l := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(l)
	return l, nil
}
