package agent

// In-process agents of this package's tests speak plain HTTP with no
// authentication unless a test sets Config.Security.Disabled = false.
func init() { testInsecureDefault = true }
