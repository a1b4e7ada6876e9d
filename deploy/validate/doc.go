// Package validate checks the Kubernetes manifests in deploy/kubernetes: its
// tests decode them strictly into the Kubernetes API types, check that the
// Indexed Job's shards, completions and volumes agree, and run the Job's
// arguments through the repository's own simrun.
//
// It is a module of its own, so that the main module does not depend on the
// Kubernetes packages. Run it with `cd deploy/validate && go test ./...`.
package validate
