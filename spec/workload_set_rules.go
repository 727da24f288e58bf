package spec

import "fmt"

// This file checks, once the whole revision is known, what a StatefulSet
// needs from the rest of it: the headless Service its serviceName names,
// which gives each pod its DNS name <pod>.<service>.<namespace>.svc. In
// GitOps the repository is the whole truth, so a Service that is missing or
// has a cluster IP is an error here, not pods without DNS names later. (The
// claims of its volumeClaimTemplates are checked with the other claims, in
// storage_rules.go.)

// checkWorkloads runs this file's checks over a loaded revision.
func checkWorkloads(docs []*document, set *Set, errs *errorSink) {
	for _, doc := range docs {
		sts, ok := doc.obj.(*StatefulSet)
		if !ok || set.Objects[KeyOf(sts)] != doc.obj || isDNS1035Label(sts.Spec.ServiceName) != "" {
			continue // not a StatefulSet, declared twice or without a valid serviceName (reported)
		}
		if msg := statefulSetServiceProblem(sts, set); msg != "" {
			p := fieldPath("spec.serviceName")
			errs.add(&Error{File: doc.file, Line: doc.lineOf(p), Object: keyLabel(KeyOf(sts)), Field: string(p), Message: msg})
		}
	}
}

// statefulSetServiceProblem says what is wrong with the Service a
// StatefulSet names, or "".
func statefulSetServiceProblem(sts *StatefulSet, set *Set) string {
	name, ns := sts.Spec.ServiceName, sts.Namespace
	o, ok := set.Objects[ObjectKey{Kind: KindService, Namespace: ns, Name: name}]
	if !ok {
		return fmt.Sprintf("Service %q is not declared in namespace %q: a StatefulSet's pods get their DNS names (%s-0.%s.%s.svc) from a headless Service (clusterIP: None) the repository declares", name, ns, sts.Name, name, ns)
	}
	svc := o.(*Service)
	if !svc.Headless() {
		return fmt.Sprintf("Service %q in namespace %q is not headless: set its clusterIP: None, so that each pod gets its own DNS name (%s-0.%s.%s.svc)", name, ns, sts.Name, name, ns)
	}
	return ""
}
