package flagvalue

import "testing"

func TestBytes(t *testing.T) {
	var n int64
	q := (*Bytes)(&n)
	for in, want := range map[string]int64{"64Mi": 64 << 20, "10M": 10_000_000, "1048576": 1 << 20, "-1": -1} {
		if err := q.Set(in); err != nil || n != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	if err := q.Set("lots"); err == nil {
		t.Error("Set(lots) accepted")
	}
	n = 10 << 20
	if q.String() != "10Mi" || q.Type() != "quantity" {
		t.Errorf("String() = %q, Type() = %q", q.String(), q.Type())
	}
}
