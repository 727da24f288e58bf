// Package owners decides per-path approvals, OWNERS-style: files named
// OWNERS list the approvers of their directory and everything below it
// (inherited upwards, as Kubernetes' OWNERS files are), and a revision is
// deployable only if every file it changes was approved by an approver of
// that file. A change to an OWNERS file needs an approver of its parent
// directory. It is pure: files come in as bytes, approvals as users.
package owners

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/policy"
)

// FileName is the name of an OWNERS file.
const FileName = "OWNERS"

// maxFileSize bounds one OWNERS file.
const maxFileSize = 64 << 10

// File is one OWNERS file. Reviewers are accepted and ignored (a review
// without a signature approves nothing); labels, emeritus_approvers and
// filters are ignored too.
type File struct {
	Approvers []string `json:"approvers,omitempty"`
	Reviewers []string `json:"reviewers,omitempty"`
	Options   struct {
		// NoParentOwners stops inheritance: the approvers of the
		// directories above do not approve this one.
		NoParentOwners bool `json:"no_parent_owners,omitempty"`
	} `json:"options,omitempty"`
}

// Tree is the OWNERS files of a revision by directory ("" for the root).
type Tree map[string]File

// Parse reads the OWNERS files among a revision's files (path → contents,
// slash-separated, relative to the application's path). An error names the
// file.
func Parse(files map[string][]byte) (Tree, error) {
	t := Tree{}
	for name, data := range files {
		if path.Base(name) != FileName {
			continue
		}
		if len(data) > maxFileSize {
			return nil, fmt.Errorf("failed to parse %s: %d bytes, more than %d", name, len(data), maxFileSize)
		}
		var f File
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			// Unknown keys (labels, filters…) are Kubernetes' own: read
			// again leniently, but a file that is not YAML is an error.
			if err2 := yaml.Unmarshal(data, &f); err2 != nil {
				return nil, fmt.Errorf("failed to parse %s: %w", name, err2)
			}
		}
		for i, a := range f.Approvers {
			f.Approvers[i] = strings.ToLower(strings.TrimSpace(a))
		}
		t[dirOf(name)] = f
	}
	return t, nil
}

func dirOf(file string) string {
	d := path.Dir(file)
	if d == "." {
		return ""
	}
	return d
}

func parent(dir string) (string, bool) {
	if dir == "" {
		return "", false
	}
	return dirOf(dir), true
}

// Owners are the approvers of a file, and the OWNERS files they come from
// (nearest first).
type Owners struct {
	Approvers []string
	Files     []string
	// ByFile are the approvers each of Files lists, in the same order.
	ByFile [][]string
}

// For returns the approvers of file. An OWNERS file is approved by the
// approvers of its parent directory (the root's OWNERS by its own
// approvers: nothing is above it). Empty Files means no OWNERS file covers
// file.
func (t Tree) For(file string) Owners {
	dir := dirOf(file)
	if path.Base(file) == FileName {
		if p, ok := parent(dir); ok {
			dir = p
		}
	}
	var o Owners
	seen := map[string]bool{}
	for {
		if f, ok := t[dir]; ok {
			o.Files = append(o.Files, path.Join(dir, FileName))
			o.ByFile = append(o.ByFile, f.Approvers)
			for _, a := range f.Approvers {
				if !seen[a] {
					seen[a] = true
					o.Approvers = append(o.Approvers, a)
				}
			}
			if f.Options.NoParentOwners {
				return o
			}
		}
		p, ok := parent(dir)
		if !ok {
			return o
		}
		dir = p
	}
}

// Unapproved is a file no approver of it approved.
type Unapproved struct {
	File   string
	Owners Owners
}

func (u Unapproved) String() string {
	return "file " + u.File + " " + u.Need()
}

// Need says what approval the file needs ("needs an approver from OWNERS
// at shop/OWNERS (bob@example.com) or OWNERS (alice@example.com)").
func (u Unapproved) Need() string {
	switch {
	case len(u.Owners.Files) == 0:
		return "needs an approval (a trusted signature on the deployed content)"
	case len(u.Owners.Approvers) == 0:
		return "needs an approver, and " + strings.Join(u.Owners.Files, ", ") + " lists none"
	}
	var from []string
	for i, f := range u.Owners.Files {
		if len(u.Owners.ByFile[i]) > 0 {
			from = append(from, fmt.Sprintf("%s (%s)", f, strings.Join(u.Owners.ByFile[i], ", ")))
		}
	}
	return "needs an approver from OWNERS at " + strings.Join(from, " or ")
}

// Check decides the approvals of changed (files relative to the
// application's path) against t, the OWNERS of the applied revision.
// approvals are the users whose signatures approve the revision. A file
// no OWNERS file covers is approved by any approval (with no OWNERS file
// at all, any trusted signer approves everything). It returns who
// approved each file and the files no approver of theirs approved (sorted).
func (t Tree) Check(changed []string, approvals []policy.User) (map[string][]policy.User, []Unapproved) {
	approvedBy := make(map[string][]policy.User, len(changed))
	var missing []Unapproved
	for _, f := range changed {
		o := t.For(f)
		var who []policy.User
		for _, u := range approvals {
			if len(o.Files) == 0 || contains(o.Approvers, strings.ToLower(u.Name)) {
				who = append(who, u)
			}
		}
		if len(who) == 0 {
			missing = append(missing, Unapproved{File: f, Owners: o})
			continue
		}
		approvedBy[f] = who
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].File < missing[j].File })
	return approvedBy, missing
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
