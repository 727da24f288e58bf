package server

import (
	"context"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestStatefulClaimsHTTP checks that a claim a StatefulSet's
// volumeClaimTemplates made (no object of its own in the revision) is
// listed with its owner.
func TestStatefulClaimsHTTP(t *testing.T) {
	claims, volumes := storageViews()
	claims = append(claims, reconcile.ClaimView{Namespace: "shop", Name: "data-web-1", Phase: reconcile.ClaimBound, Volume: "pvc-3c4d",
		Requested: 1 << 30, Capacity: 1 << 30, AccessModes: []string{spec.ReadWriteOnce}, StorageClass: "local",
		UsedBy: []string{"shop/web-1"}, Owner: "StatefulSet/shop/web"})
	cl := serveStorage(t, &view{leader: true, set: storageSet(true), claims: claims, volumes: volumes})
	got, err := cl.Claim(context.Background(), "shop", "data-web-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != "StatefulSet/shop/web" || got.Phase != reconcile.ClaimBound || got.Volume != "pvc-3c4d" {
		t.Errorf("claim = %+v", got)
	}
	all, err := cl.Claims(context.Background(), "shop")
	if err != nil || len(all) != 3 || all[0].Owner != "" {
		t.Errorf("claims = %+v, %v: want three, data-db-0 (declared in Git) without owner", all, err)
	}
}
