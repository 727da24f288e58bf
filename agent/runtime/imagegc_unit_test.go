package runtime

import (
	"slices"
	"testing"
	"time"
)

func TestSelectImagesToFree(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	img := func(d string, size int64, inUse bool, first, last time.Duration) gcImage {
		return gcImage{Digest: d, Size: size, InUse: inUse, imageUse: imageUse{FirstDetected: now.Add(-first), LastUsed: now.Add(-last)}}
	}
	// Least recently used first, as GarbageCollectImages sorts them.
	imgs := []gcImage{
		img("used-long-ago-but-in-use", 100, true, 10*time.Hour, 9*time.Hour),
		img("oldest", 30, false, 8*time.Hour, 8*time.Hour),
		img("young", 500, false, time.Minute, time.Minute*0),
		img("older", 40, false, 7*time.Hour, 6*time.Hour),
		img("recent", 50, false, 5*time.Hour, time.Hour),
	}
	digests := func(gs []gcImage) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.Digest)
		}
		return out
	}
	for _, tc := range []struct {
		toFree int64
		want   []string
	}{
		{0, nil},
		{30, []string{"oldest"}},
		{31, []string{"oldest", "older"}},
		{70, []string{"oldest", "older"}},
		{1 << 40, []string{"oldest", "older", "recent"}},
	} {
		if got := digests(selectImagesToFree(imgs, tc.toFree, 2*time.Minute, now)); !slices.Equal(got, tc.want) {
			t.Errorf("to free %d: %v, want %v", tc.toFree, got, tc.want)
		}
	}
	// Without a minimum age the young image goes too, in its turn.
	if got := digests(selectImagesToFree(imgs, 1<<40, 0, now)); !slices.Equal(got, []string{"oldest", "young", "older", "recent"}) {
		t.Errorf("no minimum age: %v", got)
	}
}
