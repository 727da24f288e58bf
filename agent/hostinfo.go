package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// hostMilliCPU is the CPU the host offers when no override is configured.
func hostMilliCPU() int64 { return int64(runtime.NumCPU()) * 1000 }

// errNoMemTotal means /proc/meminfo had no parsable MemTotal line.
var errNoMemTotal = errors.New("no MemTotal line in /proc/meminfo")

// hostMemory is MemTotal in bytes. Kubernetes subtracts reservations for the
// system and the kubelet; Stevedore leaves that to the --memory override.
func hostMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("failed to read host memory: %w", err)
	}
	defer f.Close()
	return parseMemTotal(bufio.NewScanner(f))
}

func parseMemTotal(s *bufio.Scanner) (int64, error) {
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("failed to parse MemTotal %q: %w", rest, err)
		}
		return kb * 1024, nil
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("failed to read host memory: %w", err)
	}
	return 0, errNoMemTotal
}
