package server

// In-process servers of this package's tests speak plain HTTP with no
// authentication unless a test sets Config.Security.Disabled = false.
func init() { testInsecureDefault = true }
