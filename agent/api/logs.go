package api

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Values encodes o as PathLogs' query (without namespace and pod); the
// zero options encode to nothing.
func (o LogOptions) Values() url.Values {
	q := url.Values{}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	if o.Tail > 0 || o.TailSet {
		q.Set("tail", strconv.Itoa(max(o.Tail, 0)))
	}
	flag := func(k string, v bool) {
		if v {
			q.Set(k, "1")
		}
	}
	flag(QueryFollow, o.Follow)
	flag(QueryPrevious, o.Previous)
	flag(QueryTimestamps, o.Timestamps)
	if o.SinceSeconds > 0 {
		q.Set(QuerySinceSeconds, strconv.FormatInt(o.SinceSeconds, 10))
	}
	if !o.SinceTime.IsZero() {
		q.Set(QuerySinceTime, o.SinceTime.UTC().Format(time.RFC3339Nano))
	}
	if o.LimitBytes > 0 {
		q.Set(QueryLimitBytes, strconv.FormatInt(o.LimitBytes, 10))
	}
	return q
}

// ParseLogOptions decodes PathLogs' query (Values' encoding; a flag is
// also "true"); an error says which parameter is wrong.
func ParseLogOptions(q url.Values) (LogOptions, error) {
	o := LogOptions{Container: q.Get("container")}
	var err error
	num := func(k string) int64 {
		s := q.Get(k)
		if s == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 0 {
			err = fmt.Errorf("%s %q: want a non-negative integer", k, s)
		}
		return n
	}
	flag := func(k string) bool {
		s := q.Get(k)
		if s == "" || err != nil {
			return false
		}
		b, perr := strconv.ParseBool(s)
		if perr != nil {
			err = fmt.Errorf("%s %q: want 1 or 0", k, s)
		}
		return b
	}
	o.Tail = int(num("tail"))
	// Absent is all, tail=0 none.
	o.TailSet = q.Has("tail") && o.Tail == 0
	o.SinceSeconds = num(QuerySinceSeconds)
	o.LimitBytes = num(QueryLimitBytes)
	o.Follow = flag(QueryFollow)
	o.Previous = flag(QueryPrevious)
	o.Timestamps = flag(QueryTimestamps)
	if s := q.Get(QuerySinceTime); s != "" && err == nil {
		t, perr := time.Parse(time.RFC3339Nano, s)
		if perr != nil {
			err = fmt.Errorf("%s %q: want an RFC 3339 time", QuerySinceTime, s)
		}
		o.SinceTime = t
	}
	return o, err
}
