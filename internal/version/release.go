package version

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Release is the release this tree is, or is becoming: what a binary
// built without a release tag (go build in a checkout: "(devel)" or a
// v0.0.0 pseudo-version) says it is when versions are compared, in the
// skew warnings of ctl and in the version an agent advertises. A release
// bumps it together with devenv.PreviousRelease (docs/compatibility.md).
const Release = "v0.16.0"

// releaseOverride, when set with -ldflags=-X
// github.com/stevedore-dev/stevedore/internal/version.releaseOverride=v0.19.0,
// replaces Release. TEST ONLY: the mixed-version tests build a binary that
// claims to be a later release.
var releaseOverride string

// ReleaseVersion returns the release v is, for comparisons: its GitVersion
// when that is a real version (a tag, or a pseudo-version built on one),
// else Release (or its test override).
func (v Info) ReleaseVersion() string {
	if releaseOverride != "" {
		return releaseOverride
	}
	maj, mnr, ok := MajorMinor(v.GitVersion)
	if !ok || maj == 0 && mnr == 0 {
		return Release
	}
	// A pseudo-version names the last tag before the commit
	// (v0.15.1-0.20261201035321-42af3916ab88 is "after v0.15.0"): a tree
	// that is becoming a newer release says that release.
	if pseudoVersion.MatchString(v.GitVersion) {
		if rmaj, rmnr, _ := MajorMinor(Release); rmaj > maj || rmaj == maj && rmnr > mnr {
			return Release
		}
	}
	return v.GitVersion
}

// pseudoVersion matches Go's pseudo-versions (go.dev/ref/mod#pseudo-versions):
// vX.0.0-TIMESTAMP-REV, vX.Y.(Z+1)-0.TIMESTAMP-REV and
// vX.Y.Z-PRE.0.TIMESTAMP-REV, with "+dirty" or "+incompatible" after.
var pseudoVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+-(?:.*\.)?\d{14}-[0-9a-f]{12}(?:\+.*)?$`)

// MajorMinor parses the major and minor numbers of a semantic version
// ("v0.16.0", "0.16", "v1.2.3-rc.1+dirty"). It reports false for anything
// else ("(devel)", "").
func MajorMinor(s string) (major, minor int, ok bool) {
	s = strings.TrimPrefix(s, "v")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	// The minor may carry the rest of a two-part version ("16-rc.1").
	mn := parts[1]
	if i := strings.IndexAny(mn, "-+"); i >= 0 {
		mn = mn[:i]
	}
	a, err1 := strconv.Atoi(parts[0])
	b, err2 := strconv.Atoi(mn)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return 0, 0, false
	}
	return a, b, true
}

// Skew describes how far apart two versions are in minor releases, as
// kubectl's warning does: "" when both parse, share their major version and
// are at most maxSkew minor versions apart (or when either does not parse:
// nothing to say), else the warning to print.
func Skew(client, server string, maxSkew int) string {
	cmaj, cmin, ok1 := MajorMinor(client)
	smaj, smin, ok2 := MajorMinor(server)
	if !ok1 || !ok2 {
		return ""
	}
	d := cmin - smin
	if d < 0 {
		d = -d
	}
	if cmaj == smaj && d <= maxSkew {
		return ""
	}
	return fmt.Sprintf("version difference between client (%d.%d) and server (%d.%d) exceeds the supported minor version skew of +/-%d",
		cmaj, cmin, smaj, smin, maxSkew)
}
