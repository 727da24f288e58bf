package spec

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBatchLoads(t *testing.T) {
	for name, src := range map[string]string{
		"indexed job": jobHead + `  completions: 6
  parallelism: 3
  completionMode: Indexed
  backoffLimit: 0
  activeDeadlineSeconds: 600
  ttlSecondsAfterFinished: 0
  podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes: {containerName: pi, operator: In, values: [1, 42]}
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget}]
    - action: Count
      onExitCodes: {operator: NotIn, values: [0, 3]}
` + jobTemplate,
		"manual selector": jobHead + `  manualSelector: true
  selector: {matchLabels: {app: pi}}
  template:
    metadata: {labels: {app: pi}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: pi, image: "perl:5.34"}]
`,
		"cronjob": `apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "@every 90m"
  timeZone: Europe/Paris
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 0
  successfulJobsHistoryLimit: 0
  jobTemplate:
    metadata: {labels: {app: report}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: r, image: "report:1"}]
`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadOne(src); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestJobRules(t *testing.T) {
	tmpl := func(restart string) string {
		return strings.Replace(jobTemplate, "restartPolicy: Never", "restartPolicy: "+restart, 1)
	}
	noRestart := strings.Replace(jobTemplate, "      restartPolicy: Never\n", "", 1)
	pfp := func(rule string) string {
		return jobHead + "  podFailurePolicy:\n    rules:\n" + rule + jobTemplate
	}
	runRuleCases(t, []ruleCase{
		{"completions", jobHead + "  completions: -1 #!\n" + jobTemplate, "spec.completions", "invalid value -1: must be greater than or equal to 0"},
		{"parallelism", jobHead + "  parallelism: -1 #!\n" + jobTemplate, "spec.parallelism", "must be greater than or equal to 0"},
		{"backoffLimit", jobHead + "  backoffLimit: -1 #!\n" + jobTemplate, "spec.backoffLimit", "must be greater than or equal to 0"},
		{"activeDeadlineSeconds", jobHead + "  activeDeadlineSeconds: 0 #!\n" + jobTemplate, "spec.activeDeadlineSeconds", "must be greater than 0"},
		{"ttl", jobHead + "  ttlSecondsAfterFinished: -5 #!\n" + jobTemplate, "spec.ttlSecondsAfterFinished", "must be greater than or equal to 0"},
		{"completion mode", jobHead + "  completionMode: Sharded #!\n" + jobTemplate, "spec.completionMode", `unsupported value "Sharded": supported values: "NonIndexed", "Indexed"`},
		{"indexed needs completions", jobHead + "  parallelism: 2\n  completionMode: Indexed\n" + jobTemplate, "spec.completions", "required: when completion mode is Indexed"},
		{"indexed too many", jobHead + "  completions: 100001 #!\n  completionMode: Indexed\n" + jobTemplate, "spec.completions", "must be less than or equal to 100000"},
		{"indexed hostnames", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: " + strings.Repeat("j", 60) + "} #!\nspec:\n  completions: 1000\n  completionMode: Indexed\n" + jobTemplate,
			"metadata.name", `an Indexed Job's pods' hostnames (up to "` + strings.Repeat("j", 60) + `-999") must be valid DNS labels`},
		{"name is a label value", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: " + strings.Repeat("j", 64) + "} #!\nspec:\n" + jobTemplate,
			"metadata.name", "batch.kubernetes.io/job-name label"},
		{"restart policy unset", jobHead + noRestart, "spec.template.spec.restartPolicy", `required: valid values: "OnFailure", "Never"`},
		{"restart policy always", jobHead + strings.Replace(tmpl("Always"), "Always", "Always #!", 1), "spec.template.spec.restartPolicy", `required: valid values: "OnFailure", "Never"`},
		{"selector without manualSelector", jobHead + "  selector: {matchLabels: {app: pi}} #!\n" + jobTemplate, "spec.selector", "`selector` not auto-generated"},
		{"manual selector required", jobHead + "  manualSelector: true\n" + jobTemplate, "spec.selector", "a Job needs a non-empty selector"},
		{"manual selector mismatch", jobHead + "  manualSelector: true\n  selector: {matchLabels: {app: other}}\n  template:\n    metadata: {labels: {app: pi}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: pi, image: perl}]\n",
			"spec.template.metadata.labels", "selector does not match template labels"},
		{"pfp needs Never", jobHead + "  podFailurePolicy:\n    rules: [{action: FailJob, onExitCodes: {operator: In, values: [1]}}]\n" + strings.Replace(tmpl("OnFailure"), "OnFailure", "OnFailure #!", 1),
			"spec.template.spec.restartPolicy", `only "Never" is supported when podFailurePolicy is specified`},
		{"pfp action", pfp("    - action: Retry #!\n      onExitCodes: {operator: In, values: [1]}\n"), "spec.podFailurePolicy.rules[0].action", `unsupported value "Retry": supported values: "FailJob", "FailIndex", "Ignore", "Count"`},
		{"pfp FailIndex needs Indexed", pfp("    - action: FailIndex #!\n      onExitCodes: {operator: In, values: [1]}\n"), "spec.podFailurePolicy.rules[0].action", "requires completionMode Indexed"},
		{"pfp both", pfp("    - action: FailJob #!\n      onExitCodes: {operator: In, values: [1]}\n      onPodConditions: [{type: DisruptionTarget}]\n"), "spec.podFailurePolicy.rules[0]", "specifying both OnExitCodes and OnPodConditions is not supported"},
		{"pfp neither", pfp("    - action: FailJob #!\n"), "spec.podFailurePolicy.rules[0]", "specifying one of OnExitCodes and OnPodConditions is required"},
		{"pfp operator", pfp("    - action: FailJob\n      onExitCodes:\n        operator: Equals #!\n        values: [1]\n"), "spec.podFailurePolicy.rules[0].onExitCodes.operator", `unsupported value "Equals": supported values: "In", "NotIn"`},
		{"pfp no values", pfp("    - action: FailJob\n      onExitCodes:\n        operator: In\n        values: [] #!\n"), "spec.podFailurePolicy.rules[0].onExitCodes.values", "at least one value is required"},
		{"pfp 0 with In", pfp("    - action: FailJob\n      onExitCodes:\n        operator: In\n        values:\n        - 0 #!\n"), "spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "must not be 0 for the In operator"},
		{"pfp unsorted", pfp("    - action: FailJob\n      onExitCodes:\n        operator: NotIn\n        values:\n        - 5\n        - 3 #!\n"), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]", "must be ordered"},
		{"pfp duplicate", pfp("    - action: FailJob\n      onExitCodes:\n        operator: NotIn\n        values:\n        - 3\n        - 3 #!\n"), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]", "duplicate value 3"},
		{"pfp too many values", pfp("    - action: FailJob\n      onExitCodes:\n        operator: NotIn\n        values: [" + exitCodes(256) + "] #!\n"), "spec.podFailurePolicy.rules[0].onExitCodes.values", "must have at most 255 items"},
		{"pfp container", pfp("    - action: FailJob\n      onExitCodes:\n        containerName: main #!\n        operator: In\n        values: [1]\n"), "spec.podFailurePolicy.rules[0].onExitCodes.containerName", "must be one of the container or initContainer names"},
		{"pfp condition status", pfp("    - action: Ignore\n      onPodConditions:\n      - type: DisruptionTarget\n        status: Maybe #!\n"), "spec.podFailurePolicy.rules[0].onPodConditions[0].status", `unsupported value "Maybe": supported values: "True", "False", "Unknown"`},
		{"pfp condition type", pfp("    - action: Ignore\n      onPodConditions:\n      - status: \"True\" #!\n"), "spec.podFailurePolicy.rules[0].onPodConditions[0].type", "required"},
		{"unsupported field", jobHead + "  backoffLimitPerIndex: 1 #!\n" + jobTemplate, "spec.backoffLimitPerIndex", "not supported by Stevedore"},
	})
	if _, err := loadOne(jobHead + "  podReplacementPolicy: TerminatingOrFailed\n" + jobTemplate); err != nil {
		t.Errorf("podReplacementPolicy at Kubernetes' default: %v", err)
	}
}

func exitCodes(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

const cronHead = `apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
`

const cronJobTemplate = `  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: hello, image: "busybox:1.28"}]
`

func TestCronJobRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"schedule required", cronHead + cronJobTemplate, "spec.schedule", "required: a cron schedule"},
		{"schedule unparseable", cronHead + "  schedule: \"61 * * * *\" #!\n" + cronJobTemplate, "spec.schedule", `invalid value "61 * * * *": end of range (61) above maximum (59)`},
		{"schedule six fields", cronHead + "  schedule: \"0 0 * * * *\" #!\n" + cronJobTemplate, "spec.schedule", "expected exactly 5 fields"},
		{"schedule descriptor", cronHead + "  schedule: \"@fortnightly\" #!\n" + cronJobTemplate, "spec.schedule", "unrecognized descriptor"},
		{"schedule TZ", cronHead + "  schedule: \"TZ=UTC 0 * * * *\" #!\n" + cronJobTemplate, "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
		{"schedule CRON_TZ", cronHead + "  schedule: \"CRON_TZ=Europe/Paris 0 * * * *\" #!\n" + cronJobTemplate, "spec.schedule", "use timeZone field instead"},
		{"time zone unknown", cronHead + "  schedule: \"@daily\"\n  timeZone: Mars/Olympus #!\n" + cronJobTemplate, "spec.timeZone", "unknown time zone"},
		{"time zone local", cronHead + "  schedule: \"@daily\"\n  timeZone: Local #!\n" + cronJobTemplate, "spec.timeZone", "timeZone must be an explicit time zone"},
		{"time zone empty", cronHead + "  schedule: \"@daily\"\n  timeZone: \"\" #!\n" + cronJobTemplate, "spec.timeZone", "timeZone must be nil or non-empty string"},
		{"time zone path", cronHead + "  schedule: \"@daily\"\n  timeZone: ../../etc/passwd #!\n" + cronJobTemplate, "spec.timeZone", "invalid character"},
		{"concurrency", cronHead + "  schedule: \"@daily\"\n  concurrencyPolicy: Queue #!\n" + cronJobTemplate, "spec.concurrencyPolicy", `unsupported value "Queue": supported values: "Allow", "Forbid", "Replace"`},
		{"starting deadline", cronHead + "  schedule: \"@daily\"\n  startingDeadlineSeconds: -1 #!\n" + cronJobTemplate, "spec.startingDeadlineSeconds", "must be greater than or equal to 0"},
		{"successful history", cronHead + "  schedule: \"@daily\"\n  successfulJobsHistoryLimit: -1 #!\n" + cronJobTemplate, "spec.successfulJobsHistoryLimit", "must be greater than or equal to 0"},
		{"failed history", cronHead + "  schedule: \"@daily\"\n  failedJobsHistoryLimit: -1 #!\n" + cronJobTemplate, "spec.failedJobsHistoryLimit", "must be greater than or equal to 0"},
		{"name", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: " + strings.Repeat("c", 53) + "} #!\nspec:\n  schedule: \"@daily\"\n" + cronJobTemplate, "metadata.name", "must be no more than 52 characters"},
		{"job template restart policy", cronHead + "  schedule: \"@daily\"\n" + strings.Replace(cronJobTemplate, "OnFailure", "Always #!", 1), "spec.jobTemplate.spec.template.spec.restartPolicy", `required: valid values: "OnFailure", "Never"`},
		{"job template spec", cronHead + "  schedule: \"@daily\"\n  jobTemplate:\n    spec:\n      completions: -1 #!\n" + strings.TrimPrefix(cronJobTemplate, "  jobTemplate:\n    spec:\n"), "spec.jobTemplate.spec.completions", "must be greater than or equal to 0"},
	})
}

// TestCronSchedule: the helper the reconciler uses reads schedules and zones
// as validation does, and its schedules step through real slots.
func TestCronSchedule(t *testing.T) {
	paris := "Europe/Paris"
	for _, tc := range []struct {
		schedule string
		tz       *string
		from     string // RFC 3339
		want     string
	}{
		{"*/15 * * * *", nil, "2026-03-01T10:07:00Z", "2026-03-01T10:15:00Z"},
		{"@hourly", nil, "2026-03-01T10:07:00Z", "2026-03-01T11:00:00Z"},
		{"@every 90m", nil, "2026-03-01T10:07:00Z", "2026-03-01T11:37:00Z"},
		// 02:30 in Paris is 01:30 UTC in winter.
		{"30 2 * * *", &paris, "2026-03-01T00:00:00Z", "2026-03-01T01:30:00Z"},
		{"0 9 * * MON-FRI", &paris, "2026-02-27T09:00:00Z", "2026-03-02T08:00:00Z"},
	} {
		sched, loc, err := CronSchedule(&CronJobSpec{Schedule: tc.schedule, TimeZone: tc.tz})
		if err != nil {
			t.Errorf("%s: %v", tc.schedule, err)
			continue
		}
		from, _ := time.Parse(time.RFC3339, tc.from)
		if tc.tz == nil {
			loc = time.UTC // the host's zone would make the test depend on it
		}
		if got := sched.Next(from.In(loc)).UTC().Format(time.RFC3339); got != tc.want {
			t.Errorf("%s in %v: next after %s = %s, want %s", tc.schedule, loc, tc.from, got, tc.want)
		}
	}
	for _, bad := range []CronJobSpec{{Schedule: "TZ=UTC * * * * *"}, {Schedule: "* * *"}, {Schedule: "@daily", TimeZone: &[]string{"Nowhere/City"}[0]}} {
		if _, _, err := CronSchedule(&bad); err == nil {
			t.Errorf("CronSchedule(%q, %v) = nil error", bad.Schedule, bad.TimeZone)
		}
	}
	if _, loc, err := CronSchedule(&CronJobSpec{Schedule: "@daily"}); err != nil || loc != time.Local {
		t.Errorf("no timeZone: location %v, %v; want time.Local", loc, err)
	}
}
