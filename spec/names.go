package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Name rules, as Kubernetes' validation package words and checks them.
const (
	dns1123LabelMaxLength     = 63
	dns1123SubdomainMaxLength = 253
	qualifiedNameMaxLength    = 63
	labelValueMaxLength       = 63
	ianaSvcNameMaxLength      = 15
	totalAnnotationSizeLimit  = 256 * 1024
)

var (
	dns1123LabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSearchDomainRE  = regexp.MustCompile(`^[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*$`)
	dns1035LabelRE     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	qualifiedNameRE    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	envVarNameRE       = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	ianaSvcNameRE      = regexp.MustCompile(`^[-a-z0-9]+$`)
	ianaSvcLetterRE    = regexp.MustCompile(`[a-z]`)
)

// isDNS1123Label returns why s is not a DNS-1123 label, or "".
func isDNS1123Label(s string) string {
	if len(s) > dns1123LabelMaxLength {
		return fmt.Sprintf("must be no more than %d characters", dns1123LabelMaxLength)
	}
	if !dns1123LabelRE.MatchString(s) {
		return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"
	}
	return ""
}

// isDNS1035Label returns why s is not a DNS-1035 label (a DNS-1123 label
// starting with a letter, which Kubernetes requires of Service names), or "".
func isDNS1035Label(s string) string {
	if len(s) > dns1123LabelMaxLength {
		return fmt.Sprintf("must be no more than %d characters", dns1123LabelMaxLength)
	}
	if !dns1035LabelRE.MatchString(s) {
		return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')"
	}
	return ""
}

// isDNS1123Subdomain returns why s is not a DNS-1123 subdomain, or "".
func isDNS1123Subdomain(s string) string {
	if len(s) > dns1123SubdomainMaxLength {
		return fmt.Sprintf("must be no more than %d characters", dns1123SubdomainMaxLength)
	}
	if !dns1123SubdomainRE.MatchString(s) {
		return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
	}
	return ""
}

// isDNSSearchDomain returns why s is not a DNS-1123 subdomain that may
// also hold underscores (as SRV and similar names do), or "": what
// Kubernetes accepts as a pod's search domain since its
// RelaxedDNSSearchValidation.
func isDNSSearchDomain(s string) string {
	if len(s) > dns1123SubdomainMaxLength {
		return fmt.Sprintf("must be no more than %d characters", dns1123SubdomainMaxLength)
	}
	if !dnsSearchDomainRE.MatchString(s) {
		return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character or '_' (e.g. 'example.com')"
	}
	return ""
}

// isQualifiedName returns why s is not a label key ("prefix/name" or
// "name"), or "".
func isQualifiedName(s string) string {
	parts := strings.Split(s, "/")
	name := parts[0]
	switch len(parts) {
	case 1:
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" {
			return "prefix part must be non-empty"
		}
		if msg := isDNS1123Subdomain(prefix); msg != "" {
			return "prefix part " + msg
		}
	default:
		return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc'), with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
	}
	if name == "" {
		return "name part must be non-empty"
	}
	if len(name) > qualifiedNameMaxLength {
		return fmt.Sprintf("name part must be no more than %d characters", qualifiedNameMaxLength)
	}
	if !qualifiedNameRE.MatchString(name) {
		return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
	}
	return ""
}

// isLabelValue returns why s is not a label value, or "".
func isLabelValue(s string) string {
	if len(s) > labelValueMaxLength {
		return fmt.Sprintf("must be no more than %d characters", labelValueMaxLength)
	}
	if s != "" && !qualifiedNameRE.MatchString(s) {
		return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345')"
	}
	return ""
}

// isIANASvcName returns why s is not a port name (IANA_SVC_NAME), or "".
func isIANASvcName(s string) string {
	switch {
	case len(s) > ianaSvcNameMaxLength:
		return fmt.Sprintf("must be no more than %d characters", ianaSvcNameMaxLength)
	case !ianaSvcNameRE.MatchString(s):
		return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
	case strings.Contains(s, "--"):
		return "must not contain consecutive hyphens"
	case !ianaSvcLetterRE.MatchString(s):
		return "must contain at least one letter (a-z)"
	case strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-"):
		return "must not begin or end with a hyphen"
	}
	return ""
}

// isEnvVarName returns why s is not an environment variable name, or "".
func isEnvVarName(s string) string {
	if !envVarNameRE.MatchString(s) {
		return "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name', or 'MY_ENV.NAME', or 'MyEnvName1')"
	}
	return ""
}
