// Package devenv starts the real parts a local Stevedore needs, privately
// under one directory: containerd, a registry, locally built images, a bare
// Git repository and the Stevedore processes. Tests, `make run` and
// `make bench` share it, the way containerd's integration tests start their
// own daemon.
package devenv
