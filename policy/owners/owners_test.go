package owners

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/policy"
)

func tree(t *testing.T, files map[string]string) Tree {
	t.Helper()
	b := map[string][]byte{}
	for k, v := range files {
		b[k] = []byte(v)
	}
	tr, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func users(names ...string) []policy.User {
	var u []policy.User
	for _, n := range names {
		u = append(u, policy.User{Name: n})
	}
	return u
}

func TestOwnersInheritance(t *testing.T) {
	tr := tree(t, map[string]string{
		"OWNERS":           "approvers:\n- root@example.com\nreviewers:\n- rev@example.com\n",
		"shop/OWNERS":      "approvers: [Shop@Example.com]\nlabels: [x]\n",
		"secret/OWNERS":    "approvers: [sec@example.com]\noptions:\n  no_parent_owners: true\n",
		"shop/web.yaml":    "x",
		"secret/db/a.yaml": "x",
	})
	for _, tc := range []struct {
		file  string
		want  []string
		files []string
	}{
		{"shop/web.yaml", []string{"shop@example.com", "root@example.com"}, []string{"shop/OWNERS", "OWNERS"}},
		{"shop/deep/x.yaml", []string{"shop@example.com", "root@example.com"}, []string{"shop/OWNERS", "OWNERS"}},
		{"secret/db/a.yaml", []string{"sec@example.com"}, []string{"secret/OWNERS"}},
		{"top.yaml", []string{"root@example.com"}, []string{"OWNERS"}},
		// An OWNERS file is approved from its parent directory up.
		{"shop/OWNERS", []string{"root@example.com"}, []string{"OWNERS"}},
		{"secret/OWNERS", []string{"root@example.com"}, []string{"OWNERS"}},
		{"shop/new/OWNERS", []string{"shop@example.com", "root@example.com"}, []string{"shop/OWNERS", "OWNERS"}},
		// The root's OWNERS has nothing above it: its own approvers.
		{"OWNERS", []string{"root@example.com"}, []string{"OWNERS"}},
	} {
		o := tr.For(tc.file)
		o.ByFile = nil
		if !reflect.DeepEqual(o.Approvers, tc.want) || !reflect.DeepEqual(o.Files, tc.files) {
			t.Errorf("%s: %+v, want %v from %v", tc.file, o, tc.want, tc.files)
		}
	}
}

func TestCheck(t *testing.T) {
	tr := tree(t, map[string]string{
		"OWNERS":      "approvers: [root@example.com]\n",
		"shop/OWNERS": "approvers: [shop@example.com]\n",
	})
	// The shop's approver approves the shop, not the root's files nor an
	// escalation of its own OWNERS file.
	by, missing := tr.Check([]string{"shop/web.yaml", "shop/OWNERS", "ns.yaml"}, users("shop@example.com", "eve@example.com"))
	if !reflect.DeepEqual(by, map[string][]policy.User{"shop/web.yaml": users("shop@example.com")}) {
		t.Errorf("approved: %v", by)
	}
	if len(missing) != 2 || missing[0].File != "ns.yaml" || missing[1].File != "shop/OWNERS" {
		t.Fatalf("missing: %+v", missing)
	}
	if _, m := tr.Check([]string{"shop/web.yaml"}, users("eve@example.com")); len(m) != 1 ||
		m[0].String() != "file shop/web.yaml needs an approver from OWNERS at shop/OWNERS (shop@example.com) or OWNERS (root@example.com)" {
		t.Errorf("message: %v", m)
	}
	if s := missing[1].String(); s != "file shop/OWNERS needs an approver from OWNERS at OWNERS (root@example.com)" {
		t.Errorf("message: %s", s)
	}
	// The root's approver approves everything.
	if _, missing := tr.Check([]string{"shop/web.yaml", "shop/OWNERS", "ns.yaml"}, users("ROOT@example.com")); len(missing) != 0 {
		t.Errorf("root: %+v", missing)
	}
	// No OWNERS at all: any approval approves; none approves nothing.
	empty := tree(t, nil)
	if by, missing := empty.Check([]string{"a.yaml"}, users("x@example.com")); len(missing) != 0 || len(by["a.yaml"]) != 1 {
		t.Errorf("no OWNERS: %v %v", by, missing)
	}
	if _, missing := empty.Check([]string{"a.yaml"}, nil); len(missing) != 1 || !strings.Contains(missing[0].String(), "needs an approval") {
		t.Errorf("no approval: %v", missing)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse(map[string][]byte{"a/OWNERS": []byte("approvers: [unclosed\n")}); err == nil || !strings.Contains(err.Error(), "a/OWNERS") {
		t.Errorf("bad YAML: %v", err)
	}
	if _, err := Parse(map[string][]byte{"OWNERS": make([]byte, maxFileSize+1)}); err == nil {
		t.Error("huge OWNERS accepted")
	}
	// An alias bomb is refused by the YAML decoder's own limits, quickly.
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\napprovers: *g\n"
	if _, err := Parse(map[string][]byte{"OWNERS": []byte(bomb)}); err == nil {
		t.Error("alias bomb accepted")
	}
}
