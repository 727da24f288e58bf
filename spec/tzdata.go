package spec

// The IANA time zone database, embedded: a CronJob's timeZone must load the
// same on every machine, including a fresh one without /usr/share/zoneinfo,
// and every binary that validates or runs CronJobs imports this package.
import _ "time/tzdata"
