package policy

import "testing"

func TestUserInGroupAndString(t *testing.T) {
	u := User{Name: "alice@example.com", Groups: []string{"dev", "ops"}}
	if !u.InGroup("ops") || u.InGroup("system:masters") {
		t.Fatalf("InGroup: %v", u)
	}
	if got, want := u.String(), "alice@example.com (groups dev, ops)"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := (User{Name: "bob"}).String(); got != "bob" {
		t.Fatalf("String() = %q", got)
	}
}
