package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// This file validates the batch/v1 kinds, Job and CronJob, with
// Kubernetes' rules and wording (pkg/apis/batch/validation), and parses a
// CronJob's schedule and time zone for validation and the reconciler alike
// (CronSchedule), so that the two never disagree.

// Limits Kubernetes puts on a Job.
const (
	// MaxIndexedJobCompletions bounds completions (and parallelism) of an
	// Indexed Job.
	MaxIndexedJobCompletions = 100000
	// MaxPodFailurePolicyRules bounds spec.podFailurePolicy.rules.
	MaxPodFailurePolicyRules = 20
	// MaxPodFailurePolicyExitCodes bounds an onExitCodes rule's values.
	MaxPodFailurePolicyExitCodes = 255
	// MaxPodFailurePolicyConditions bounds an onPodConditions list.
	MaxPodFailurePolicyConditions = 20
)

var (
	jobCompletionModes      = []string{NonIndexedCompletion, IndexedCompletion}
	podFailureActions       = []string{PodFailurePolicyActionFailJob, PodFailurePolicyActionFailIndex, PodFailurePolicyActionIgnore, PodFailurePolicyActionCount}
	exitCodeOperators       = []string{PodFailurePolicyOnExitCodesOpIn, PodFailurePolicyOnExitCodesOpNotIn}
	podConditionStatuses    = []string{PodConditionTrue, "False", "Unknown"}
	concurrencyPolicies     = []string{AllowConcurrent, ForbidConcurrent, ReplaceConcurrent}
	jobRestartPolicies      = []string{RestartPolicyOnFailure, RestartPolicyNever}
	validTimeZoneCharsRE    = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)
	errTZInSchedule         = errors.New("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
	errEmptyTimeZone        = errors.New("timeZone must be nil or non-empty string")
	errLocalTimeZone        = errors.New("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
	errInvalidTimeZoneChars = errors.New("timeZone contains an invalid character: each part of a zone name is letters, digits, '.', '-', '_' or '+', at most 14 of them")
)

// jobName checks what a Job's name becomes: the value of the
// batch.kubernetes.io/job-name label on its pods (at most 63 characters),
// and for an Indexed Job the pods' hostnames <name>-<index>.
func (v *validator) jobName(o *Job) {
	if o.Name == "" || isDNS1123Subdomain(o.Name) != "" {
		return // reported by objectMeta
	}
	if msg := isLabelValue(o.Name); msg != "" {
		v.add("metadata.name", "invalid value %q: %s (it is the value of the %s label on the Job's pods)", o.Name, msg, JobNameLabel)
		return
	}
	s := &o.Spec
	if s.CompletionMode != nil && *s.CompletionMode == IndexedCompletion && s.Completions != nil && *s.Completions > 0 {
		host := IndexedJobHostname(o.Name, *s.Completions-1)
		if msg := isDNS1123Label(host); msg != "" {
			v.add("metadata.name", "invalid value %q: an Indexed Job's pods' hostnames (up to %q) must be valid DNS labels: %s", o.Name, host, msg)
		}
	}
}

func (v *validator) jobSpec(s *JobSpec, p fieldPath) {
	if s.Parallelism != nil {
		v.nonNegative(p.child("parallelism"), int64(*s.Parallelism))
	}
	if s.Completions != nil {
		v.nonNegative(p.child("completions"), int64(*s.Completions))
	}
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		v.add(p.child("activeDeadlineSeconds"), "invalid value %d: must be greater than 0 (a Job with no time to run fails at once)", *s.ActiveDeadlineSeconds)
	}
	if s.BackoffLimit != nil {
		v.nonNegative(p.child("backoffLimit"), int64(*s.BackoffLimit))
	}
	if s.TTLSecondsAfterFinished != nil {
		v.nonNegative(p.child("ttlSecondsAfterFinished"), int64(*s.TTLSecondsAfterFinished))
	}
	indexed := false
	if m := s.CompletionMode; m != nil {
		switch *m {
		case IndexedCompletion:
			indexed = true
			v.indexedJob(s, p)
		case NonIndexedCompletion:
		default:
			v.add(p.child("completionMode"), "unsupported value %q: supported values: %s", *m, quoteAll(jobCompletionModes))
		}
	}
	manual := s.ManualSelector != nil && *s.ManualSelector
	switch {
	case manual:
		v.selectedTemplate(KindJob, s.Selector, &s.Template, p)
	default:
		if s.Selector != nil {
			v.add(p.child("selector"), "`selector` not auto-generated: Stevedore selects a Job's pods by their %s label; set manualSelector: true to use this selector instead", JobNameLabel)
		}
		v.templateMeta(&s.Template.ObjectMeta, p.child("template.metadata"))
		v.podSpec(&s.Template.Spec, p.child("template.spec"))
	}
	rp := p.child("template.spec.restartPolicy")
	switch rs := s.Template.Spec.RestartPolicy; {
	case rs == RestartPolicyAlways || rs == "":
		// Unset is defaulted to Always, as in Kubernetes, so the two
		// cannot be told apart.
		v.add(rp, "required: valid values: %s (a Job's pods run to completion; Always, the default, is not allowed)", quoteAll(jobRestartPolicies))
	case rs != RestartPolicyOnFailure && rs != RestartPolicyNever:
		// Reported by podSpec.
	case rs == RestartPolicyOnFailure && s.PodFailurePolicy != nil:
		v.add(rp, "invalid value %q: only %q is supported when podFailurePolicy is specified", rs, RestartPolicyNever)
	}
	if pfp := s.PodFailurePolicy; pfp != nil {
		v.podFailurePolicy(pfp, &s.Template.Spec, indexed, p.child("podFailurePolicy"))
	}
}

func (v *validator) indexedJob(s *JobSpec, p fieldPath) {
	if s.Completions == nil {
		v.add(p.child("completions"), "required: when completion mode is %s (indexes 0 to completions-1 each succeed once)", IndexedCompletion)
	} else if *s.Completions > MaxIndexedJobCompletions {
		v.add(p.child("completions"), "invalid value %d: must be less than or equal to %d when completion mode is %s", *s.Completions, MaxIndexedJobCompletions, IndexedCompletion)
	}
	if s.Parallelism != nil && *s.Parallelism > MaxIndexedJobCompletions {
		v.add(p.child("parallelism"), "invalid value %d: must be less than or equal to %d when completion mode is %s", *s.Parallelism, MaxIndexedJobCompletions, IndexedCompletion)
	}
}

func (v *validator) podFailurePolicy(pfp *PodFailurePolicy, ps *PodSpec, indexed bool, p fieldPath) {
	rp := p.child("rules")
	if len(pfp.Rules) > MaxPodFailurePolicyRules {
		v.add(rp, "too many: %d: must have at most %d items", len(pfp.Rules), MaxPodFailurePolicyRules)
	}
	containers := map[string]bool{}
	for _, list := range [][]Container{ps.InitContainers, ps.Containers} {
		for _, c := range list {
			containers[c.Name] = true
		}
	}
	for i := range pfp.Rules {
		r := &pfp.Rules[i]
		ip := rp.index(i)
		switch {
		case !containsString(podFailureActions, r.Action):
			v.add(ip.child("action"), "unsupported value %q: supported values: %s", r.Action, quoteAll(podFailureActions))
		case r.Action == PodFailurePolicyActionFailIndex && !indexed:
			v.add(ip.child("action"), "invalid value %q: requires completionMode %s (a NonIndexed Job has no index to fail)", r.Action, IndexedCompletion)
		}
		switch {
		case r.OnExitCodes != nil && r.OnPodConditions != nil:
			v.add(ip, "specifying both OnExitCodes and OnPodConditions is not supported")
		case r.OnExitCodes != nil:
			v.onExitCodes(r.OnExitCodes, containers, ip.child("onExitCodes"))
		case r.OnPodConditions != nil:
			v.onPodConditions(r.OnPodConditions, ip.child("onPodConditions"))
		default:
			v.add(ip, "specifying one of OnExitCodes and OnPodConditions is required")
		}
	}
}

func (v *validator) onExitCodes(r *PodFailurePolicyOnExitCodesRequirement, containers map[string]bool, p fieldPath) {
	if n := r.ContainerName; n != nil && !containers[*n] {
		v.add(p.child("containerName"), "invalid value %q: must be one of the container or initContainer names in the pod template", *n)
	}
	if !containsString(exitCodeOperators, r.Operator) {
		v.add(p.child("operator"), "unsupported value %q: supported values: %s", r.Operator, quoteAll(exitCodeOperators))
	}
	vp := p.child("values")
	switch {
	case len(r.Values) == 0:
		v.add(vp, "invalid value []: at least one value is required")
	case len(r.Values) > MaxPodFailurePolicyExitCodes:
		v.add(vp, "too many: %d: must have at most %d items", len(r.Values), MaxPodFailurePolicyExitCodes)
	}
	for i, val := range r.Values {
		ip := vp.index(i)
		switch {
		case r.Operator == PodFailurePolicyOnExitCodesOpIn && val == 0:
			v.add(ip, "invalid value 0: must not be 0 for the In operator")
		case i > 0 && r.Values[i-1] == val:
			v.add(ip, "duplicate value %d", val)
		case i > 0 && r.Values[i-1] > val:
			v.add(ip, "invalid value %d: must be ordered", val)
		}
	}
}

func (v *validator) onPodConditions(cs []PodFailurePolicyOnPodConditionsPattern, p fieldPath) {
	if len(cs) > MaxPodFailurePolicyConditions {
		v.add(p, "too many: %d: must have at most %d items", len(cs), MaxPodFailurePolicyConditions)
	}
	for i, c := range cs {
		ip := p.index(i)
		if c.Type == "" {
			v.add(ip.child("type"), "required: a pod condition type, e.g. DisruptionTarget")
		} else {
			v.check(ip.child("type"), c.Type, isQualifiedName(c.Type))
		}
		if !containsString(podConditionStatuses, c.Status) {
			v.add(ip.child("status"), "unsupported value %q: supported values: %s", c.Status, quoteAll(podConditionStatuses))
		}
	}
}

func (v *validator) cronJobSpec(s *CronJobSpec, p fieldPath) {
	sp := p.child("schedule")
	if s.Schedule == "" {
		v.add(sp, "required: a cron schedule such as \"*/5 * * * *\" or \"@hourly\"")
	} else if _, err := parseSchedule(s.Schedule); err != nil {
		v.add(sp, "invalid value %q: %v", s.Schedule, err)
	}
	if tz := s.TimeZone; tz != nil {
		if _, err := loadTimeZone(*tz); err != nil {
			v.add(p.child("timeZone"), "invalid value %q: %v", *tz, err)
		}
	}
	if !containsString(concurrencyPolicies, s.ConcurrencyPolicy) {
		v.add(p.child("concurrencyPolicy"), "unsupported value %q: supported values: %s", s.ConcurrencyPolicy, quoteAll(concurrencyPolicies))
	}
	if d := s.StartingDeadlineSeconds; d != nil {
		v.nonNegative(p.child("startingDeadlineSeconds"), *d)
	}
	if l := s.SuccessfulJobsHistoryLimit; l != nil {
		v.nonNegative(p.child("successfulJobsHistoryLimit"), int64(*l))
	}
	if l := s.FailedJobsHistoryLimit; l != nil {
		v.nonNegative(p.child("failedJobsHistoryLimit"), int64(*l))
	}
	jp := p.child("jobTemplate")
	v.templateMeta(&s.JobTemplate.ObjectMeta, jp.child("metadata"))
	v.jobSpec(&s.JobTemplate.Spec, jp.child("spec"))
}

// cronParser reads what Kubernetes' CronJob controller reads
// (cron.ParseStandard): five fields, or a descriptor such as @hourly or
// @every 90m.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseSchedule parses a CronJob schedule, refusing a TZ= or CRON_TZ=
// prefix as Kubernetes does (the zone belongs in spec.timeZone).
func parseSchedule(schedule string) (cron.Schedule, error) {
	if strings.Contains(schedule, "TZ") {
		return nil, errTZInSchedule
	}
	return cronParser.Parse(schedule)
}

// loadTimeZone loads a CronJob's time zone with Kubernetes' rules: not
// empty, not "Local", a name from the IANA database (which the binaries
// embed, so the host's copy does not matter).
func loadTimeZone(tz string) (*time.Location, error) {
	switch {
	case tz == "":
		return nil, errEmptyTimeZone
	case strings.EqualFold(tz, "Local"):
		return nil, errLocalTimeZone
	}
	for _, part := range strings.Split(tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharsRE.MatchString(part) {
			return nil, errInvalidTimeZoneChars
		}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone: not in the IANA time zone database (e.g. \"Europe/Paris\", \"UTC\")")
	}
	return loc, nil
}

// CronSchedule parses a CronJob's schedule and loads its time zone as
// validation does: the reconciler calls it to find a CronJob's slots, so a
// schedule that loaded is one it can run. The location is time.Local when
// spec.timeZone is unset; the schedule's Next must be given times in it
// (t.In(loc)).
func CronSchedule(c *CronJobSpec) (cron.Schedule, *time.Location, error) {
	sched, err := parseSchedule(c.Schedule)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse schedule %q: %w", c.Schedule, err)
	}
	loc := time.Local
	if c.TimeZone != nil {
		if loc, err = loadTimeZone(*c.TimeZone); err != nil {
			return nil, nil, fmt.Errorf("failed to load time zone %q: %w", *c.TimeZone, err)
		}
	}
	return sched, loc, nil
}
