// Package flagvalue holds the flag value types the daemons' commands
// share, so that a flag means the same in each.
package flagvalue

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Bytes is a byte count given as a Kubernetes quantity ("64Mi", "10M",
// "1048576"), as a pflag.Value over an int64 field: (*Bytes)(&cfg.Field).
type Bytes int64

func (q *Bytes) String() string {
	return resource.NewQuantity(int64(*q), resource.BinarySI).String()
}

// Set parses s as a Kubernetes quantity.
func (q *Bytes) Set(s string) error {
	v, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("want a quantity such as 64Mi: %w", err)
	}
	*q = Bytes(v.Value())
	return nil
}

// Type names the value in the flags' help.
func (q *Bytes) Type() string { return "quantity" }
