// Package readme holds the Go examples of the README (send.go, receive.go,
// exactlyonce.go), so that they compile and their tests run them.
// readme_test.go fails when a Go block of README.md no longer appears, line
// for line, in one of those files: change both together.
package readme
