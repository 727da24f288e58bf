package release

import (
	"reflect"
	"strings"
	"testing"
)

func TestUnitFlags(t *testing.T) {
	unit := []byte("[Service]\n# ExecStart=/not/this\nEnvironmentFile=/etc/x.env\nExecStart=/opt/stevedore/bin/agent --data-dir=/d ${ARGS}\n")
	env := []byte("# comment\nARGS=\"--node=n1 --join=a:1 --join=b:2\"\n")
	bin, flags, err := UnitFlags(unit, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"data-dir", "node", "join", "join"}; bin != "/opt/stevedore/bin/agent" || !reflect.DeepEqual(flags, want) {
		t.Errorf("UnitFlags = %s %v, want /opt/stevedore/bin/agent %v", bin, flags, want)
	}
	for _, c := range []struct{ unit, env, err string }{
		{"[Service]\n", "", "no ExecStart"},
		{"ExecStart=/a $MISSING\n", "", "does not set"},
		{"ExecStart=/a --x\nExecStart=/b\n", "", "twice"},
		{"ExecStart=/a $A\n", "A=node1\n", "not a --flag"},
		{"ExecStart=/a\n", "garbage\n", "not NAME=value"},
	} {
		if _, _, err := UnitFlags([]byte(c.unit), []byte(c.env)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("UnitFlags(%q, %q) = %v, want an error with %q", c.unit, c.env, err, c.err)
		}
	}
}
